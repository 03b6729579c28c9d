"""LLM providers: each wire format (OpenAI chat, Anthropic messages, Gemini generateContent) over httpx."""
