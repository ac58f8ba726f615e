"""Live sessions: one supervised Gemini Live connection per agent. Never imports runtime.emulator."""
