"""IndexTTS2 inference library of IndexTTS Node.

Loads the official IndexTeam/IndexTTS-2 checkpoint folder unchanged. Knows tensors,
checkpoints, text and audio; knows nothing of HTTP, Gradio, Socket.IO or Celery.
"""

__version__ = "0.1.0"
