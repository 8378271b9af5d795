"""The space client: registers this node with a central spaces site over Socket.IO, takes the jobs
the site sends, runs them one at a time through the node's queue, uploads the audio and reports
the results (`webui.py --websocket-mode`, or headless as `python -m ws_client`)."""

from ws_client.client import SpaceClient

__all__ = ["SpaceClient"]
