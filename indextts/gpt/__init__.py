"""UnifiedVoice v2: the text-to-semantic-code GPT and its conditioning encoders."""
