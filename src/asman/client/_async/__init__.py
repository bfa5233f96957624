"""The SDK's client, handles and session. The asyncio code in src/asman/client/_async is the source; its
blocking copy in src/asman/client/_sync is written from it by scripts/unasync.py."""
