"""Asman for AI agents: the MCP tools (`tools.py`), served over Streamable HTTP at `/mcp` (`http.py`) and over
stdio by `asman mcp` (`stdio.py`), and `/llms.txt` (`llms.py`).

The tools are written once, over the async SDK client, so both transports share them and neither depends on
the REST API's JSON shapes."""
