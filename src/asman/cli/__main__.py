from asman.cli.main import main

main()
