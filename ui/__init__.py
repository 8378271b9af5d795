"""The Gradio web UI (a front door): layout, words in two languages, and its event handlers."""
