"""Socket.IO client that registers this node with a central spaces server (`--websocket-mode`).

Empty until the space-client issue.
"""
