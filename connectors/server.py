"""``shopbot serve``: the HTTP API, streaming, the chat widget and a demo store page.

Endpoints (all JSON unless noted; errors are ``{"error": {"code", "message"}}`` with a 4xx,
or a generic 500 when the server itself fails: see ``http_errors``):

    GET  /                          demo store page with the widget on it (server.demo_page)
    GET  /widget.js                 the embeddable widget (one <script> tag)
    GET  /healthz                   liveness and what is loaded
    POST /api/sessions              start a conversation → {"session_id": token}
    GET  /api/sessions/{token}      its history and handoff state
    POST /api/chat                  {"text", "session_id"?} → {"session_id", "reply"}
    POST /api/chat/stream           same body → Server-Sent Events: session, delta…, reply
    POST /api/sessions/{token}/agent    a human agent's message   (Bearer server.admin_token)
    POST /api/sessions/{token}/release  hand the conversation back (Bearer server.admin_token)
    POST /channels/{name}           other enabled connectors (Slack, WeChat, ...); web = /api/chat
                                    (GET too, or other methods, when the connector declares them)
    GET  /docs                      OpenAPI documentation (its assets served here: offline)

Every channel's messages, ``/api/chat`` included, take the dispatcher's path
(``connectors/dispatch.py``): verify → parse → limits → the conversation's lock and an
answering slot → the bot → the response, or an acknowledgement and a worker. The bot is
synchronous (CPU-bound retrieval, a serialised local model), so it runs in threads; messages
of one conversation are answered one at a time, in order. The customer-facing session routes
serve web conversations only (``ChatService.session``); the agent routes reach those of
every channel the server serves, and the agent's message reaches the customer there.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from html import escape
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from bot.continuity import orphaned
from bot.engine import Bot
from bot.sessions import Session, Turn
from connectors.base import ChannelError, ChannelRequest, ChannelResponse, Connector, Headers
from connectors.chat_service import ChatService, history
from connectors.config import ShopbotConfig
from connectors.http_errors import CatchAll, error_responses, install_error_handlers
from connectors.limits import BodyLimit, RateLimited
from connectors.registry import build_connectors
from connectors.web import (
    AgentMessage,
    ChatRequest,
    SessionRequest,
    WebConnector,
    WebOptions,
)

log = logging.getLogger(__name__)

API_VERSION = "1"
STATIC = Path(__file__).parent / "static"
DOCS_ASSETS = "/docs-assets"


def client_address(request: Request, trust_proxy: bool) -> str:
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


async def neutral(request: Request, client: str) -> ChannelRequest:
    """The framework-neutral form of a FastAPI request (the body read whole)."""
    return ChannelRequest(
        method=request.method,
        path=request.url.path,
        headers=Headers(list(request.headers.items())),
        query=dict(request.query_params),
        body=await request.body(),
        client=client,
    )


def response_of(result: ChannelResponse) -> Response:
    return Response(result.body, status_code=result.status, headers=result.headers)


# ---------------------------------------------------------------------------- static files
def static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def demo_page(config: ShopbotConfig, options: WebOptions) -> str:
    """The demo store page, with the widget tag carrying the configured options."""
    attributes = {
        "data-title": options.title,
        "data-greeting": options.greeting,
        "data-color": options.color,
        "data-position": options.position,
        "data-language": options.language,
    }
    tag = " ".join(f'{k}="{escape(v)}"' for k, v in attributes.items())
    page = static_text("demo.html")
    return page.replace("{{STORE_NAME}}", escape(config.store.name)).replace(
        "{{WIDGET_ATTRIBUTES}}", tag
    )


# ---------------------------------------------------------------------------- API docs
def docs_assets_dir() -> Path:
    """Swagger UI's files, as the fastapi-offline package ships them."""
    return Path(fastapi_offline.__file__).parent / "static"


def add_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) with its script, styles and icon served by this server:
    FastAPI's own page loads them from a CDN, a blank page offline. There is no ``/redoc``:
    ReDoc's bundle fetches its logo from its CDN whatever it is told."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    title = f"{app.title} API"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=title,
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )


def json_body_doc(
    model: type[BaseModel], *, required: bool = True, **overrides: dict[str, Any]
) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON request body: the routes read the body themselves
    (so that any body, however malformed, gets a clear 4xx), so FastAPI cannot see it."""
    schema = model.model_json_schema()
    for name, changes in overrides.items():
        schema["properties"][name].update(changes)
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": required, "content": content}}


# ---------------------------------------------------------------------------- the app
def create_app(
    config: ShopbotConfig,
    *,
    bot: Bot | None = None,
    bot_factory: Callable[[], Bot] | None = None,
) -> FastAPI:
    """The ASGI app. Pass a ready ``bot`` (tests), or it is built at startup from config."""
    server = config.server
    connectors: dict[str, Connector] = build_connectors(config.channels)
    configured = connectors.get("web")
    web_options = configured.options if isinstance(configured, WebConnector) else WebOptions()
    web = WebConnector(web_options, max_chars=config.bot.max_message_chars)
    if configured is not None:  # /channels/web is the same connector as /api/chat
        connectors["web"] = web
    widget_js = static_text("widget.js")
    page = demo_page(config, web_options) if server.demo_page else ""
    holder: dict[str, ChatService] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        own = bot is None
        if own:
            from connectors.app import build_bot

            started = time.perf_counter()
            built = await asyncio.to_thread(bot_factory or (lambda: build_bot(config)))
            await asyncio.to_thread(built.warm_up)
            log.info("bot ready in %.1f s", time.perf_counter() - started)
        else:
            built = bot
        holder["service"] = ChatService(built, config, web, channels=connectors.values())
        # answers a killed server left half done: their messages are kept, marked for retry
        cut = await asyncio.to_thread(built.sessions.mark_interrupted, orphaned)
        if cut:
            log.warning("%d answer(s) were interrupted by a stop of the server", cut)
        try:
            yield
        finally:
            await asyncio.to_thread(holder["service"].close)  # answers under way finish
            if own:
                built.sessions.close()

    app = FastAPI(
        title="shopbot",
        version=API_VERSION,
        description="Customer-service bot API: chat (JSON or streamed), conversation history, "
        "handoff to a human. Errors are JSON {error: {code, message}} with a 4xx status "
        "that says what to fix (a 500 when the server itself failed, without details).",
        lifespan=lifespan,
        docs_url=None,  # add_docs: the same pages, without a CDN
        redoc_url=None,  # ReDoc loads its logo from a CDN
    )
    add_docs(app)
    # the last added is the outermost: CORS headers go on every response, errors included
    app.add_middleware(BodyLimit, max_bytes=server.max_body_bytes)
    app.add_middleware(CatchAll)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=server.allowed_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["content-type", "authorization"],
        max_age=600,
    )
    install_error_handlers(app)

    def service() -> ChatService:
        return holder["service"]

    async def json_body(request: Request) -> Any:
        neutral = ChannelRequest(body=await request.body(), headers=dict(request.headers))
        return WebConnector.body(neutral)  # None when empty; a 400/415 that says what to send

    def admin(request: Request) -> None:
        token = server.admin_token.get_secret_value() if server.admin_token else ""
        if not token:
            raise ChannelError(
                403,
                "agent_api_off",
                "the agent endpoints are off: set server.admin_token (e.g. "
                "${SHOPBOT_ADMIN_TOKEN}) in config.yaml",
            )
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise ChannelError(401, "unauthorized", "send Authorization: Bearer <admin_token>")

    def address(request: Request) -> str:
        return client_address(request, server.trust_proxy)

    # -------------------------------------------------------------- pages
    if server.demo_page:

        @app.get("/", response_class=HTMLResponse, include_in_schema=False)
        async def index() -> HTMLResponse:
            return HTMLResponse(page)

    @app.get("/widget.js", include_in_schema=False)
    async def widget() -> Response:
        return Response(
            widget_js,
            media_type="application/javascript; charset=utf-8",
            headers={"cache-control": "public, max-age=300"},
        )

    @app.get("/healthz", tags=["service"])
    async def health() -> dict[str, Any]:
        """Liveness: the store, the knowledge entries and the enabled channels."""
        svc = service()
        return {
            "status": "ok",
            "store": config.store.name,
            "chunks": len(svc.bot.kb.index.chunks),
            "channels": sorted(connectors) or ["web"],
            "api_version": API_VERSION,
        }

    # -------------------------------------------------------------- chat
    chat_doc = json_body_doc(ChatRequest, text={"maxLength": config.bot.max_message_chars})

    @app.post(
        "/api/sessions",
        status_code=201,
        tags=["chat"],
        responses=error_responses(400, 413, 415, 422, 429),
        openapi_extra=json_body_doc(SessionRequest, required=False),
    )
    async def start_session(request: Request) -> dict[str, Any]:
        """Start a conversation; keep the returned token and send it with each message."""
        body = await json_body(request) or {}
        user_id = body.get("user_id", "anonymous") if isinstance(body, dict) else "anonymous"
        if not isinstance(user_id, str) or not 0 < len(user_id) <= 128:
            raise ChannelError(422, "bad_user_id", "user_id must be a string of 1-128 characters")
        wait = service().per_ip.check(address(request))
        if wait is not None:
            raise RateLimited("too many new conversations from your address", retry_after=wait)
        session = await asyncio.to_thread(service().create_session, user_id)
        return history(session)

    @app.get("/api/sessions/{session_id}", tags=["chat"], responses=error_responses(404, 422))
    async def get_session(session_id: str) -> dict[str, Any]:
        """The conversation so far (customer text as stored: personal data redacted)."""
        return history(await asyncio.to_thread(service().session, session_id))

    chat_errors = error_responses(400, 404, 413, 415, 422, 429)

    @app.post("/api/chat", tags=["chat"], responses=chat_errors, openapi_extra=chat_doc)
    async def chat(request: Request) -> Response:
        """Answer one message: ``{"text": "...", "session_id": "<token>"}``."""
        return response_of(await service().dispatch(web, await neutral(request, address(request))))

    @app.post(
        "/api/chat/stream",
        tags=["chat"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "events"}}
        | chat_errors,
        openapi_extra=chat_doc,
    )
    async def chat_stream(request: Request) -> StreamingResponse:
        """The same, as Server-Sent Events: ``session``, ``delta`` (text pieces to append,
        in order), then ``reply`` (the final reply, authoritative) and ``done``."""
        svc = service()
        message = await run_in_threadpool(svc.prepare, await neutral(request, address(request)))
        return StreamingResponse(
            svc.stream(message),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    # -------------------------------------------------------------- agents
    @app.post(
        "/api/sessions/{session_id}/agent",
        tags=["agents"],
        responses=error_responses(400, 401, 403, 404, 413, 415, 422),
        openapi_extra=json_body_doc(AgentMessage),
    )
    async def agent_message(session_id: str, request: Request) -> dict[str, Any]:
        """A human agent's message; the conversation stays with the human. It reaches the
        customer on the conversation's channel: a Slack thread (``relayed``: true), the
        widget through the history."""
        admin(request)
        body = await json_body(request)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise ChannelError(422, "empty_message", 'send {"text": "..."}')

        def add() -> dict[str, Any]:
            svc = service()
            with svc.lock(session_id):
                session = svc.conversation(session_id)
                session.state = "handoff"
                said = svc.bot.redact(text.strip(), session)  # stored redacted, as all text
                svc.bot.sessions.append(session, Turn("agent", said))
                try:  # the customer's platform gets it as written; the widget reads history
                    relayed = svc.relay(session, text.strip())
                except Exception:
                    log.exception("agent message to %s not delivered", session.channel)
                    relayed = False
                return {**history(session), "relayed": relayed}

        return await asyncio.to_thread(add)

    @app.post(
        "/api/sessions/{session_id}/release",
        tags=["agents"],
        responses=error_responses(401, 403, 404, 422),
    )
    async def release(session_id: str, request: Request) -> dict[str, Any]:
        """Give the conversation back to the bot."""
        admin(request)

        def back() -> Session:
            svc = service()
            with svc.lock(session_id):
                session = svc.conversation(session_id)
                session.state, session.failures = "bot", 0
                svc.bot.sessions.save_state(session)
                return session

        return history(await asyncio.to_thread(back))

    # -------------------------------------------------------------- other channels
    async def channel(name: str, request: Request) -> Response:
        """Webhook of an enabled connector (see the channel set-up guides), on the
        dispatcher's path; ``web`` is ``/api/chat`` under another address. A platform with a
        short window (Slack) gets its acknowledgement at once and the answer from a worker,
        under the same limits, conversation lock and answering slots."""
        connector = connectors.get(name)
        if connector is None:
            enabled = ", ".join(sorted(connectors)) or "none"
            raise ChannelError(
                404, "unknown_channel", f"no channel {name!r} is enabled (enabled: {enabled})"
            )
        if request.method not in connector.methods:
            allowed = ", ".join(sorted(connector.methods))
            refused = ChannelError(
                405,
                "method_not_allowed",
                f"/channels/{name} does not take {request.method}: use {allowed}",
            ).response()
            refused.headers["allow"] = allowed
            return response_of(refused)
        return response_of(
            await service().dispatch(connector, await neutral(request, address(request)))
        )

    channel_errors = error_responses(400, 401, 403, 404, 405, 413, 415, 422, 429)
    for method in ("POST", "GET", "PUT", "PATCH", "DELETE"):
        # every method reaches ``channel``: the connector says which it takes (405 else)
        app.add_api_route(
            "/channels/{name}",
            channel,
            methods=[method],
            tags=["channels"],
            responses=channel_errors,
            include_in_schema=method in ("POST", "GET"),
            operation_id=f"channel_{method.lower()}",
        )

    return app
