"""Values many tests share, defined once."""

PLATFORM_SECRET = "model-config/platform-keys"
PLATFORM_KEYS = {"google-ai-studio": "AIzaPLATFORM-google-key-000000000"}
PRO = "google-ai-studio/gemini-2.5-pro"
FLASH = "google-ai-studio/gemini-2.5-flash"
OPUS = "anthropic/claude-opus-4-5"
# Users' keys of each provider's shape (none real); their previews are `sk-o****cdef`, `sk-a****ghij`, `xai-****efgh`.
OPENAI_KEY = "sk-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-api03-0123456789abcdefghij"
GROK_KEY = "xai-0123456789abcdefgh"
