"""What every ASR backend shares: the pieces to transcribe and the flow from pieces to a transcript."""
