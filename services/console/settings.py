"""The console's own settings, read from `GANTRY_*` variables when the process starts."""

from __future__ import annotations

from dataclasses import dataclass

from services.kit.settings import bind_host, env, flag


@dataclass(frozen=True)
class ConsoleSettings:
    host: str
    port: int
    # Off only for plain-HTTP development away from loopback: browsers keep Secure cookies
    # of http://127.0.0.1 and http://localhost.
    secure_cookies: bool
    # The gateway's API reference, which the start page links to (another origin in production).
    api_docs_url: str
    # Dates are shown in the browser's zone once it has told it (console.js); until then in this one.
    time_zone: str
    # The console's address as people reach it, for the links of the mails it sends.
    public_url: str

    @classmethod
    def from_env(cls) -> ConsoleSettings:
        return cls(
            host=bind_host(),
            port=int(env("CONSOLE_PORT", "8090")),
            secure_cookies=not flag("CONSOLE_INSECURE_COOKIES"),
            api_docs_url=env("CONSOLE_API_DOCS_URL", f"http://127.0.0.1:{env('GATEWAY_PORT', '8080')}/docs"),
            time_zone=env("CONSOLE_TIME_ZONE", "UTC"),
            public_url=env("CONSOLE_PUBLIC_URL", f"http://127.0.0.1:{env('CONSOLE_PORT', '8090')}"),
        )
