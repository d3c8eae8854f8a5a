"""The LLM reasoner: Gome's structured reasoning, selection, code writing and judgement through
any LLM backend (OpenAI, Anthropic, replay, or a third party's)."""
