"""HTTP front doors on the node's FastAPI app: REST `/tts`, the OpenAI-compatible speech API,
and their shared error handling. Each route only translates its wire format to
`SynthesisRequest` and back; jobs go through the node's one queue."""
