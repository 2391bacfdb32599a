/*!
 * shopbot chat widget: one tag, no build step, no dependencies.
 *
 *   <script src="https://shop.example/widget.js" data-title="Chat with us" defer></script>
 *
 * Options (data- attributes of the tag):
 *   data-server             API base URL (default: the origin this script was loaded from)
 *   data-title              header title
 *   data-greeting           first bubble a new visitor sees
 *   data-color              accent colour, #rgb or #rrggbb
 *   data-position           right (default) | left
 *   data-language           auto (the browser's) | en | zh: the widget's own words
 *   data-question           question pre-filled in the input
 *   data-open               "true": open the panel on load
 *   data-fullscreen-mobile  "false" to keep the floating panel below 600px width
 *   data-z-index            stacking order (default 2147483000)
 *
 * Site owners can call window.ShopbotWidget.open(), .close() and .ask("question").
 * Everything lives in a Shadow DOM; server and customer text only ever go in textContent.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    var tags = document.querySelectorAll("script[src*='widget.js']");
    script = tags.length ? tags[tags.length - 1] : null;
  }
  if (window.ShopbotWidget && window.ShopbotWidget.version) return; // the tag is on twice

  var VERSION = "1";
  var POLL_MS = 3000;
  var RETRY_DELAYS_MS = [1000, 2000, 4000];
  var data = (script && script.dataset) || {};

  // ------------------------------------------------------------------ options
  function absoluteUrl(value, fallback) {
    try {
      return new URL(value, location.href);
    } catch (e) {
      return fallback;
    }
  }
  var scriptUrl = script && script.src ? absoluteUrl(script.src, null) : null;
  var serverUrl = data.server ? absoluteUrl(data.server, null) : null;
  var SERVER = serverUrl
    ? serverUrl.href.replace(/\/+$/, "")
    : scriptUrl
      ? scriptUrl.origin
      : location.origin;
  var SERVER_ORIGIN = absoluteUrl(SERVER, location).origin;

  function flag(value, fallback) {
    if (value === undefined || value === null || value === "") return fallback;
    return !/^(false|0|no|off)$/i.test(String(value).trim());
  }

  var STRINGS = {
    en: {
      title: "Chat with us",
      greeting: "Hi! Ask me about orders, shipping, returns or our products.",
      open: "Open chat",
      close: "Close chat",
      restart: "Start a new conversation",
      placeholder: "Type your question…",
      inputLabel: "Your message",
      send: "Send",
      log: "Conversation",
      typing: "The assistant is typing…",
      you: "You",
      bot: "Assistant",
      agent: "Support agent",
      source: "Source:",
      sources: "Sources",
      inStock: "In stock",
      outOfStock: "Out of stock",
      options: "Choose a topic",
      retrying: "Connection lost, retrying…",
      offline: "We couldn't reach the server. Check your connection and send your message again.",
      failed: "Something went wrong. Please try again.",
      notSent: "Not sent",
      handoff: "A member of our team will reply here shortly.",
      released: "You're chatting with the assistant again.",
      status: "Answers in seconds",
      statusHuman: "A team member has joined",
      unread: function (n) {
        return n === 1 ? "1 new message" : n + " new messages";
      },
    },
    zh: {
      title: "在线客服",
      greeting: "您好！有关订单、配送、退换货或商品的问题，都可以问我。",
      open: "打开聊天",
      close: "关闭聊天",
      restart: "开始新的对话",
      placeholder: "请输入您的问题…",
      inputLabel: "您的消息",
      send: "发送",
      log: "对话记录",
      typing: "正在输入…",
      you: "您",
      bot: "智能助手",
      agent: "人工客服",
      source: "来源：",
      sources: "参考资料",
      inStock: "有货",
      outOfStock: "缺货",
      options: "选择一个主题",
      retrying: "连接中断，正在重试…",
      offline: "无法连接服务器，请检查网络后重新发送。",
      failed: "出错了，请稍后重试。",
      notSent: "未发送",
      handoff: "客服人员会尽快在这里回复您。",
      released: "您已回到智能助手对话。",
      status: "通常几秒内回复",
      statusHuman: "人工客服已接入",
      unread: function (n) {
        return n + " 条新消息";
      },
    },
  };

  function pickLanguage(value) {
    var wanted = String(value || "auto").toLowerCase();
    if (wanted === "auto") wanted = String(navigator.language || "en").toLowerCase();
    return wanted.indexOf("zh") === 0 ? "zh" : "en";
  }
  var LANG = pickLanguage(data.language);
  var T = STRINGS[LANG];

  var OPTIONS = {
    title: data.title || T.title,
    greeting: data.greeting || T.greeting,
    color: /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i.test(data.color || "") ? data.color : "#2f6f4f",
    position: data.position === "left" ? "left" : "right",
    question: data.question || "",
    open: flag(data.open, false),
    fullscreenMobile: flag(data.fullscreenMobile, true),
    zIndex: /^-?\d{1,10}$/.test(data.zIndex || "") ? parseInt(data.zIndex, 10) : 2147483000,
  };

  // ------------------------------------------------------------------ colours
  function rgb(hex) {
    var h = hex.slice(1);
    if (h.length === 3) h = h[0] + h[0] + h[1] + h[1] + h[2] + h[2];
    return [0, 2, 4].map(function (i) {
      return parseInt(h.slice(i, i + 2), 16);
    });
  }
  function luminance(c) {
    var v = c.map(function (x) {
      x /= 255;
      return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }
  function contrast(a, b) {
    var la = luminance(a);
    var lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  function css(c) {
    return "rgb(" + c.map(Math.round).join(", ") + ")";
  }
  var ACCENT = rgb(OPTIONS.color);
  var WHITE = [255, 255, 255];
  var INK = [17, 24, 39];
  // text on the accent: white unless the accent is too light for it
  var ON_ACCENT = contrast(ACCENT, WHITE) >= 3.2 ? WHITE : INK;
  // the accent as link / focus colour: darkened until readable on the grey bubble
  var ACCENT_INK = ACCENT.slice();
  for (var step = 0; step < 20 && contrast(ACCENT_INK, [241, 243, 246]) < 4.6; step++) {
    ACCENT_INK = ACCENT_INK.map(function (x) {
      return x * 0.85;
    });
  }

  var STYLE = [
    ":host{all:initial !important;display:block !important;position:fixed !important;",
    "top:0 !important;left:0 !important;width:0 !important;height:0 !important;",
    "z-index:" + OPTIONS.zIndex + " !important;}",
    "*,*::before,*::after{box-sizing:border-box;}",
    "[hidden]{display:none !important;}",
    ".sb-root{--accent:" + css(ACCENT) + ";--on-accent:" + css(ON_ACCENT) + ";",
    "--sb-t:0px;--sb-r:0px;--sb-b:0px;--sb-l:0px;",
    "--accent-ink:" + css(ACCENT_INK) + ";",
    "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,'Noto Sans',",
    "'PingFang SC','Hiragino Sans GB','Microsoft YaHei','Noto Sans CJK SC',sans-serif;",
    "font-size:15px;line-height:1.45;font-weight:400;font-style:normal;color:#1f2937;",
    "letter-spacing:normal;word-spacing:normal;text-align:left;text-transform:none;",
    "text-shadow:none;-webkit-font-smoothing:antialiased;}",
    "button,textarea{font:inherit;color:inherit;letter-spacing:inherit;margin:0;}",
    "button{background:none;border:0;padding:0;cursor:pointer;text-transform:none;",
    "touch-action:manipulation;}",
    ":focus{outline:none;}",
    ":focus-visible{outline:3px solid var(--accent-ink);outline-offset:2px;}",
    "a{color:var(--accent-ink);text-decoration:underline;text-underline-offset:2px;}",
    "a:hover{text-decoration-thickness:2px;}",
    ".sb-sr{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;",
    "clip:rect(0 0 0 0);white-space:nowrap;border:0;}",
    "svg{display:block;flex:none;}",
    // launcher
    ".sb-launcher{position:fixed;bottom:calc(20px + var(--sb-b));right:calc(20px + var(--sb-r));",
    "width:60px;height:60px;",
    "border-radius:50%;background:var(--accent);color:var(--on-accent);display:flex;",
    "align-items:center;justify-content:center;box-shadow:0 6px 20px rgba(17,24,39,.28),",
    "0 2px 6px rgba(17,24,39,.16);transition:transform .15s ease,box-shadow .15s ease;}",
    // hover only where there is one: on a touch screen it would stick after the tap
    "@media (hover:hover){.sb-launcher:hover{transform:translateY(-2px) scale(1.03);}}",
    ".sb-launcher:focus-visible{outline:3px solid #fff;box-shadow:0 0 0 6px var(--accent-ink),",
    "0 6px 20px rgba(17,24,39,.28);}",
    ".sb-left .sb-launcher{left:calc(20px + var(--sb-l));right:auto;}",
    ".sb-badge{position:absolute;top:-2px;right:-2px;min-width:22px;height:22px;padding:0 6px;",
    "border-radius:11px;background:#c2410c;color:#fff;font-size:12px;font-weight:700;",
    "line-height:22px;text-align:center;box-shadow:0 0 0 2px #fff;}",
    // panel
    ".sb-panel{position:fixed;bottom:calc(92px + var(--sb-b));right:calc(20px + var(--sb-r));",
    "width:384px;max-width:calc(100vw - 40px);",
    "height:620px;max-height:calc(100vh - 116px);display:flex;flex-direction:column;",
    "background:#fff;border-radius:18px;overflow:hidden;",
    "box-shadow:0 16px 48px rgba(17,24,39,.24),0 2px 8px rgba(17,24,39,.10);",
    "animation:sb-in .18s ease-out;}",
    ".sb-left .sb-panel{left:calc(20px + var(--sb-l));right:auto;}",
    ".sb-probe{position:fixed;top:0;left:0;right:0;bottom:0;visibility:hidden;",
    "pointer-events:none;}",
    "@keyframes sb-in{from{opacity:0;transform:translateY(12px);}to{opacity:1;transform:none;}}",
    // header
    ".sb-header{display:flex;align-items:center;gap:12px;padding:14px 12px 14px 16px;",
    "background:var(--accent);color:var(--on-accent);flex:none;}",
    ".sb-avatar{width:40px;height:40px;border-radius:50%;display:flex;align-items:center;",
    "justify-content:center;background:rgba(255,255,255,.18);flex:none;}",
    ".sb-heading{flex:1;min-width:0;}",
    ".sb-title{margin:0;font-size:16px;font-weight:650;line-height:1.25;white-space:nowrap;",
    "overflow:hidden;text-overflow:ellipsis;}",
    ".sb-subtitle{font-size:12.5px;line-height:1.3;opacity:.92;display:flex;align-items:center;",
    "gap:6px;margin-top:2px;}",
    ".sb-dot{width:8px;height:8px;border-radius:50%;background:#4ade80;",
    "box-shadow:0 0 0 2px rgba(255,255,255,.35);}",
    ".sb-is-handoff .sb-dot{background:#fbbf24;}",
    ".sb-icon-button{width:36px;height:36px;border-radius:10px;display:flex;",
    "align-items:center;justify-content:center;color:var(--on-accent);flex:none;}",
    ".sb-icon-button:hover{background:rgba(255,255,255,.16);}",
    ".sb-header :focus-visible{outline-color:var(--on-accent);outline-offset:-2px;}",
    // conversation
    ".sb-log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:18px 14px 8px;",
    "display:flex;flex-direction:column;gap:12px;background:#fafbfc;}",
    ".sb-msg{display:flex;flex-direction:column;max-width:86%;align-self:flex-start;",
    "align-items:flex-start;}",
    ".sb-msg--user{align-self:flex-end;align-items:flex-end;}",
    ".sb-label{font-size:12px;font-weight:600;color:#4b5563;margin:0 6px 4px;}",
    ".sb-bubble{padding:10px 14px;border-radius:18px;white-space:pre-wrap;",
    "overflow-wrap:anywhere;max-width:100%;}",
    ".sb-msg--bot .sb-bubble{background:#f1f3f6;color:#1f2937;border-bottom-left-radius:6px;}",
    // what a recommendation says after its picks (sold-out matches, how to refine): below the cards
    ".sb-after{margin-top:8px;padding:8px 14px;border-radius:14px;background:#f1f3f6;",
    "color:#374151;font-size:13px;white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%;}",
    ".sb-msg--user .sb-bubble{background:var(--accent);color:var(--on-accent);",
    "border-bottom-right-radius:6px;}",
    ".sb-failed .sb-bubble{opacity:.6;max-height:8.5em;overflow:hidden;",
    "-webkit-mask-image:linear-gradient(#000 70%,transparent);",
    "mask-image:linear-gradient(#000 70%,transparent);}",
    ".sb-failed-label{font-size:12px;font-weight:600;color:#b91c1c;margin:4px 6px 0;}",
    ".sb-msg--agent .sb-bubble{background:#e7effc;color:#172b4d;border-bottom-left-radius:6px;",
    "border:1px solid #c9daf5;}",
    ".sb-msg--agent .sb-label{color:#1d4ed8;}",
    ".sb-text{white-space:pre-wrap;}",
    ".sb-streaming .sb-text::after{content:'';display:inline-block;width:7px;height:1em;",
    "margin-left:2px;vertical-align:-2px;background:currentColor;opacity:.45;",
    "animation:sb-blink 1s steps(2) infinite;}",
    "@keyframes sb-blink{50%{opacity:0;}}",
    ".sb-cites{margin:10px 0 0;padding:8px 0 0;border-top:1px solid #dde2e8;font-size:13px;",
    "list-style:none;white-space:normal;}",
    ".sb-cites-title{font-size:12px;font-weight:600;color:#4b5563;margin:10px 0 0;",
    "padding-top:8px;border-top:1px solid #dde2e8;white-space:normal;}",
    ".sb-cites-title+.sb-cites{border:0;margin:2px 0 0;padding:0;}",
    ".sb-cites li{display:flex;gap:6px;margin:3px 0;}",
    ".sb-cite-n{color:#4b5563;font-variant-numeric:tabular-nums;flex:none;}",
    ".sb-source{margin-top:8px;font-size:12.5px;color:#4b5563;white-space:normal;}",
    ".sb-options{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px;width:100%;}",
    ".sb-option{font:inherit;font-size:13.5px;line-height:1.3;text-align:left;cursor:pointer;",
    "background:#fff;color:var(--accent-ink);border:1px solid var(--accent-ink);",
    "border-radius:999px;padding:6px 12px;max-width:100%;overflow-wrap:anywhere;}",
    ".sb-option:hover{background:var(--accent);color:var(--on-accent);border-color:var(--accent);}",
    ".sb-source-title{font-weight:600;color:#374151;}",
    ".sb-products{display:flex;flex-direction:column;gap:8px;margin-top:8px;width:100%;",
    "min-width:240px;}",
    ".sb-card{display:flex;flex-direction:column;gap:4px;background:#fff;border:1px solid #e1e5ea;",
    "border-radius:12px;padding:10px 12px;box-shadow:0 1px 2px rgba(17,24,39,.05);}",
    ".sb-card-title{font-weight:600;color:#111827;}",
    ".sb-card-image{width:100%;max-height:140px;object-fit:contain;border-radius:6px;}",
    ".sb-card-reason{font-size:13px;color:#374151;}",
    ".sb-card-row{display:flex;align-items:center;justify-content:space-between;gap:8px;}",
    ".sb-price{font-weight:600;color:#111827;font-variant-numeric:tabular-nums;}",
    ".sb-stock{font-size:12px;font-weight:600;border-radius:999px;padding:2px 8px;}",
    ".sb-stock--in{background:#e3f4e8;color:#14532d;}",
    ".sb-stock--out{background:#fde8e8;color:#8a1c1c;}",
    // notices
    ".sb-handoff{align-self:stretch;display:flex;gap:10px;align-items:flex-start;",
    "padding:10px 12px;border-radius:12px;background:#fff6e0;border:1px solid #f2cf7e;",
    "color:#5c3d00;font-size:14px;}",
    ".sb-handoff svg{margin-top:1px;color:#a16207;}",
    ".sb-note{align-self:center;font-size:12.5px;color:#4b5563;padding:2px 10px;}",
    ".sb-error{align-self:stretch;display:flex;gap:10px;align-items:flex-start;",
    "padding:10px 12px;border-radius:12px;background:#fdecec;border:1px solid #f3b9b9;",
    "color:#7f1d1d;font-size:14px;overflow-wrap:anywhere;}",
    ".sb-error svg{margin-top:1px;color:#b91c1c;}",
    ".sb-typing{display:flex;gap:5px;align-items:center;padding:14px 16px;}",
    ".sb-typing i{width:7px;height:7px;border-radius:50%;background:#8a94a3;display:block;",
    "animation:sb-bounce 1.2s infinite ease-in-out;}",
    ".sb-typing i:nth-child(2){animation-delay:.15s;}",
    ".sb-typing i:nth-child(3){animation-delay:.3s;}",
    "@keyframes sb-bounce{0%,60%,100%{transform:none;opacity:.5;}",
    "30%{transform:translateY(-4px);opacity:1;}}",
    ".sb-conn{flex:none;align-self:center;margin:4px 12px 0;padding:6px 14px;",
    "border-radius:999px;background:#1f2937;color:#fff;font-size:13px;}",
    // composer
    ".sb-form{flex:none;display:flex;align-items:flex-end;gap:8px;padding:10px 12px 12px;",
    "background:#fff;border-top:1px solid #e5e8ec;}",
    ".sb-input{flex:1;min-width:0;resize:none;border:1px solid #c5ccd5;border-radius:21px;",
    "padding:10px 16px;min-height:42px;max-height:140px;line-height:1.4;background:#fff;",
    "color:#1f2937;font-size:15px;overflow-y:auto;display:block;}",
    ".sb-input::placeholder{color:#6b7280;opacity:1;}",
    ".sb-input:focus-visible,.sb-input:focus{outline:2px solid var(--accent-ink);",
    "outline-offset:0;border-color:var(--accent-ink);}",
    ".sb-send{width:42px;height:42px;border-radius:50%;background:var(--accent);",
    "color:var(--on-accent);display:flex;align-items:center;justify-content:center;flex:none;}",
    ".sb-send:disabled{opacity:.45;cursor:default;}",
    // small screens
    "@media (max-width:599px){",
    ".sb-launcher{bottom:calc(16px + var(--sb-b) + env(safe-area-inset-bottom,0px));",
    "right:calc(16px + var(--sb-r) + env(safe-area-inset-right,0px));}",
    ".sb-left .sb-launcher{left:calc(16px + var(--sb-l) + env(safe-area-inset-left,0px));",
    "right:auto;}",
    ".sb-panel{bottom:calc(88px + var(--sb-b));right:calc(16px + var(--sb-r));",
    "max-width:calc(100vw - 32px);}",
    ".sb-left .sb-panel{left:calc(16px + var(--sb-l));right:auto;}",
    // 16px: a smaller text in a focused input makes iOS zoom the whole page
    ".sb-input{font-size:16px;}",
    ".sb-fs .sb-panel,.sb-fs.sb-left .sb-panel{top:var(--sb-t);left:var(--sb-l);",
    "right:var(--sb-r);bottom:var(--sb-b);width:auto;height:auto;max-width:none;",
    "max-height:none;border-radius:0;}",
    ".sb-fs .sb-header{padding-top:calc(14px + env(safe-area-inset-top,0px));}",
    ".sb-fs .sb-form{padding-bottom:calc(12px + env(safe-area-inset-bottom,0px));}",
    ".sb-fs.sb-open .sb-launcher{display:none;}}",
    "@media (prefers-reduced-motion:reduce){.sb-panel,.sb-launcher,.sb-typing i,",
    ".sb-streaming .sb-text::after{animation:none;transition:none;}}",
  ].join("");

  // ------------------------------------------------------------------ DOM helpers
  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    Object.keys(props).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child) node.appendChild(child);
    });
    return node;
  }

  var SVG_NS = "http://www.w3.org/2000/svg";
  var ICONS = {
    chat: [
      [
        "path",
        {
          d:
            "M21 11.5a8.4 8.4 0 0 1-9 8.4 8.6 8.6 0 0 1-3.8-.9L3 20.5l1.5-4.6" +
            "a8.4 8.4 0 0 1-1-4.4A8.5 8.5 0 0 1 12 3a8.5 8.5 0 0 1 9 8.5z",
        },
      ],
    ],
    close: [["path", { d: "M18 6 6 18M6 6l12 12" }]],
    send: [["path", { d: "M5 12h13M12 5l7 7-7 7" }]],
    restart: [
      ["path", { d: "M3 12a9 9 0 1 0 3-6.7" }],
      ["path", { d: "M3 4v5h5" }],
    ],
    bot: [
      ["rect", { x: "4", y: "8", width: "16", height: "11", rx: "3" }],
      ["path", { d: "M12 4v4M9 13h.01M15 13h.01M9.5 16h5" }],
    ],
    person: [
      ["circle", { cx: "12", cy: "8", r: "4" }],
      ["path", { d: "M4 21a8 8 0 0 1 16 0" }],
    ],
    alert: [
      ["circle", { cx: "12", cy: "12", r: "9" }],
      ["path", { d: "M12 7.5v5.5M12 16.5h.01" }],
    ],
  };
  function icon(name, size) {
    var svg = document.createElementNS(SVG_NS, "svg");
    var attrs = {
      viewBox: "0 0 24 24",
      width: String(size || 22),
      height: String(size || 22),
      fill: "none",
      stroke: "currentColor",
      "stroke-width": "2",
      "stroke-linecap": "round",
      "stroke-linejoin": "round",
      "aria-hidden": "true",
      focusable: "false",
    };
    Object.keys(attrs).forEach(function (k) {
      svg.setAttribute(k, attrs[k]);
    });
    ICONS[name].forEach(function (shape) {
      var node = document.createElementNS(SVG_NS, shape[0]);
      Object.keys(shape[1]).forEach(function (k) {
        node.setAttribute(k, shape[1][k]);
      });
      svg.appendChild(node);
    });
    return svg;
  }

  function safeUrl(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      var parsed = new URL(url, SERVER);
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }
  function link(text, url) {
    var href = safeUrl(url);
    if (!href) return el("span", { text: text });
    return el("a", { href: href, target: "_blank", rel: "noopener noreferrer", text: text });
  }

  // ------------------------------------------------------------------ storage
  var TOKEN_KEY = "shopbot.session:" + SERVER_ORIGIN;
  var OPEN_KEY = "shopbot.open:" + SERVER_ORIGIN;
  function storageGet(store, key) {
    try {
      return window[store].getItem(key);
    } catch (e) {
      return null;
    }
  }
  function storageSet(store, key, value) {
    try {
      if (value === null) window[store].removeItem(key);
      else window[store].setItem(key, value);
    } catch (e) {
      /* storage off (private mode, sandboxed frame): the chat still works for this page */
    }
  }

  // ------------------------------------------------------------------ state
  var state = {
    token: storageGet("localStorage", TOKEN_KEY),
    open: false,
    busy: false,
    handoff: false,
    known: 0, // messages the server has stored that this page has accounted for
    synced: true, // false while `known` is a guess (the history could not be loaded)
    agentSeen: 0, // agent messages shown
    unread: 0,
    pollTimer: null,
    polling: false,
    queue: [],
    generation: 0, // bumped by restart(): late answers of an old conversation are dropped
  };

  var ui = {};

  // ------------------------------------------------------------------ the visible area
  // On a phone, a page wider than the screen widens the area position:fixed is laid out in
  // (the layout viewport), which leaves the launcher off-screen. The offsets of what is
  // visible (the visual viewport) from that area's edges keep the launcher and the panel
  // on the screen. Not while the visitor pinch-zooms: then the page decides.
  function followScreen() {
    var vv = window.visualViewport;
    if (!vv) return;
    var queued = false;
    function update() {
      queued = false;
      var area = ui.probe.getBoundingClientRect();
      var zoomed = Math.abs(vv.scale - 1) > 0.01;
      var edges = {
        t: vv.offsetTop - area.top,
        l: vv.offsetLeft - area.left,
        r: area.right - (vv.offsetLeft + vv.width),
        b: area.bottom - (vv.offsetTop + vv.height),
      };
      Object.keys(edges).forEach(function (edge) {
        var px = zoomed ? 0 : Math.max(0, Math.round(edges[edge]));
        if (px) ui.root.style.setProperty("--sb-" + edge, px + "px");
        else ui.root.style.removeProperty("--sb-" + edge);
      });
    }
    function queue() {
      if (queued) return;
      queued = true;
      window.requestAnimationFrame(update);
    }
    vv.addEventListener("resize", queue);
    vv.addEventListener("scroll", queue);
    window.addEventListener("resize", queue);
    queue();
  }

  // ------------------------------------------------------------------ building
  function build() {
    var host = document.createElement("shopbot-widget");
    host.setAttribute("data-shopbot", VERSION);
    var shadow = host.attachShadow({ mode: "open" });
    var style = document.createElement("style");
    style.textContent = STYLE;
    shadow.appendChild(style);

    var root = el("div", {
      className:
        "sb-root sb-" + OPTIONS.position + (OPTIONS.fullscreenMobile ? " sb-fs" : ""),
      lang: LANG === "zh" ? "zh-CN" : "en",
    });

    var launcher = el("button", {
      type: "button",
      className: "sb-launcher",
      "aria-label": T.open,
      "aria-expanded": "false",
      "aria-controls": "sb-panel",
    });
    ui.launcherIcon = icon("chat", 28);
    launcher.appendChild(ui.launcherIcon);
    ui.badge = el("span", { className: "sb-badge", "aria-hidden": "true", hidden: true });
    launcher.appendChild(ui.badge);

    ui.title = el("h2", { className: "sb-title", id: "sb-title", text: OPTIONS.title });
    ui.status = el("span", { className: "sb-status", text: T.status });
    function headerButton(name, label, size) {
      var button = el("button", {
        type: "button",
        className: "sb-icon-button sb-" + name,
        "aria-label": label,
        title: label,
      });
      button.appendChild(icon(name, size));
      return button;
    }
    var restart = headerButton("restart", T.restart, 20);
    var close = headerButton("close", T.close, 22);
    var avatar = el("div", { className: "sb-avatar", "aria-hidden": "true" });
    avatar.appendChild(icon("bot", 24));
    var header = el("div", { className: "sb-header" }, [
      avatar,
      el("div", { className: "sb-heading" }, [
        ui.title,
        el("div", { className: "sb-subtitle" }, [
          el("span", { className: "sb-dot", "aria-hidden": "true" }),
          ui.status,
        ]),
      ]),
      restart,
      close,
    ]);

    ui.log = el("div", {
      className: "sb-log",
      role: "log",
      "aria-live": "polite",
      "aria-label": T.log,
      tabindex: "0",
    });
    ui.conn = el("div", { className: "sb-conn", role: "status", hidden: true });
    ui.input = el("textarea", {
      className: "sb-input",
      rows: "1",
      "aria-label": T.inputLabel,
      placeholder: T.placeholder,
      enterkeyhint: "send",
    });
    ui.send = el("button", { type: "submit", className: "sb-send", "aria-label": T.send });
    ui.send.appendChild(icon("send", 20));
    ui.form = el("form", { className: "sb-form" }, [ui.input, ui.send]);

    ui.panel = el(
      "div",
      {
        className: "sb-panel",
        id: "sb-panel",
        role: "dialog",
        "aria-label": OPTIONS.title,
        hidden: true,
      },
      [header, ui.log, ui.conn, ui.form]
    );

    ui.probe = el("div", { className: "sb-probe", "aria-hidden": "true" });
    root.appendChild(ui.probe);
    root.appendChild(ui.panel);
    root.appendChild(launcher);
    shadow.appendChild(root);
    ui.host = host;
    ui.root = root;
    ui.launcher = launcher;
    ui.close = close;

    followScreen();
    launcher.addEventListener("click", function () {
      if (state.open) closePanel(true);
      else openPanel(true);
    });
    close.addEventListener("click", function () {
      closePanel(true);
    });
    restart.addEventListener("click", restartConversation);
    root.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && state.open) {
        event.preventDefault();
        closePanel(true);
      }
    });
    ui.form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    ui.input.addEventListener("keydown", function (event) {
      if (event.key !== "Enter" || event.shiftKey) return;
      if (event.isComposing || event.keyCode === 229) return; // IME still composing
      event.preventDefault();
      submit();
    });
    ui.input.addEventListener("input", autosize);

    ui.input.value = OPTIONS.question;
    document.body.appendChild(host);
    autosize();
  }

  function autosize() {
    var input = ui.input;
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 140) + "px";
  }

  function nearBottom() {
    var log = ui.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }
  function scrollDown(force) {
    if (force || nearBottom()) ui.log.scrollTop = ui.log.scrollHeight;
  }
  function append(node) {
    var stick = nearBottom();
    ui.log.appendChild(node);
    if (stick) ui.log.scrollTop = ui.log.scrollHeight;
    return node;
  }

  // ------------------------------------------------------------------ rendering
  function messageNode(role, text) {
    var kind = role === "user" ? "user" : role === "agent" ? "agent" : "bot";
    var label = role === "user" ? T.you : role === "agent" ? T.agent : T.bot;
    var node = el("div", { className: "sb-msg sb-msg--" + kind, "data-role": role });
    if (role === "agent") node.appendChild(el("div", { className: "sb-label", text: label }));
    else node.appendChild(el("span", { className: "sb-sr", text: label + ": " }));
    var bubble = el("div", { className: "sb-bubble" });
    var body = el("div", { className: "sb-text", text: text || "" });
    bubble.appendChild(body);
    node.appendChild(bubble);
    return node;
  }
  function addMessage(role, text) {
    return append(messageNode(role, text));
  }

  function citationTitle(c) {
    var title = c && c.title ? String(c.title) : String((c && c.doc_id) || "");
    return c && c.section && title.indexOf(c.section) < 0 ? title + " › " + c.section : title;
  }

  function renderCitations(bubble, citations, action) {
    if (!citations || !citations.length) return;
    if (action === "answer_faq") {
      var c = citations[0];
      var line = el("div", { className: "sb-source" }, [el("span", { text: T.source + " " })]);
      var title = link(citationTitle(c), c.url);
      title.classList.add("sb-source-title");
      line.appendChild(title);
      bubble.appendChild(line);
      return;
    }
    bubble.appendChild(el("div", { className: "sb-cites-title", text: T.sources }));
    var list = el("ol", { className: "sb-cites" });
    citations.forEach(function (c) {
      list.appendChild(
        el("li", {}, [
          el("span", {
            className: "sb-cite-n",
            text: "[" + (c.n || list.children.length + 1) + "]",
          }),
          link(citationTitle(c), c.url),
        ])
      );
    });
    bubble.appendChild(list);
  }

  function price(p) {
    if (typeof p.price !== "number") return "";
    try {
      if (p.currency) {
        return new Intl.NumberFormat(LANG === "zh" ? "zh-CN" : "en-US", {
          style: "currency",
          currency: p.currency,
        }).format(p.price);
      }
    } catch (e) {
      /* an unknown currency code: plain number below */
    }
    return p.price.toFixed(2) + (p.currency ? " " + p.currency : "");
  }

  function renderProducts(node, products) {
    if (!products || !products.length) return;
    var list = el("div", { className: "sb-products" });
    products.forEach(function (p) {
      var stock = p.in_stock === false;
      list.appendChild(
        el("div", { className: "sb-card", "data-sku": p.sku || "" }, [
          (function () {
            var t = link(String(p.title || p.sku || ""), p.url);
            t.classList.add("sb-card-title");
            return t;
          })(),
          safeUrl(p.image)
            ? el("img", { className: "sb-card-image", src: safeUrl(p.image), alt: "", loading: "lazy" })
            : null,
          p.reason ? el("div", { className: "sb-card-reason", text: String(p.reason) }) : null,
          el("div", { className: "sb-card-row" }, [
            el("span", { className: "sb-price", text: price(p) }),
            el("span", {
              className: "sb-stock " + (stock ? "sb-stock--out" : "sb-stock--in"),
              text: stock ? T.outOfStock : T.inStock,
            }),
          ]),
        ])
      );
    });
    node.appendChild(list);
  }

  // A clarifying question's topics as buttons: a click sends the topic back, which the
  // server takes as the answer to the question. They are gone once anything is sent.
  function renderOptions(node, options, action) {
    if (action !== "clarify" || !options || !options.length) return;
    var group = el("div", { className: "sb-options", role: "group", "aria-label": T.options });
    options.forEach(function (option) {
      var button = el("button", { type: "button", className: "sb-option", text: String(option) });
      button.addEventListener("click", function () {
        if (state.busy) return;
        send(String(option));
      });
      group.appendChild(button);
    });
    node.appendChild(group);
  }
  function clearOptions() {
    ui.log.querySelectorAll(".sb-options").forEach(function (group) {
      group.parentNode.removeChild(group);
    });
  }

  function finishBotMessage(node, reply) {
    node.classList.remove("sb-streaming");
    node.setAttribute("data-action", reply.action || "");
    var bubble = node.querySelector(".sb-bubble");
    var text = reply.text || "";
    var after = [];
    if (reply.action === "recommend" && reply.products && reply.products.length) {
      // the cards show the picks: the bubble keeps what leads to the numbered list, and
      // what follows it (sold-out matches, how to refine) goes below the cards
      var before = [];
      var listed = false;
      text.split("\n").forEach(function (line) {
        if (/^\d+\.\s|^\s+https?:/.test(line)) listed = true;
        else (listed ? after : before).push(line);
      });
      text = before.join("\n");
    }
    bubble.querySelector(".sb-text").textContent = text;
    renderCitations(bubble, reply.citations, reply.action);
    renderProducts(node, reply.products);
    if (after.length) node.appendChild(el("div", { className: "sb-after", text: after.join("\n") }));
    renderOptions(node, reply.options, reply.action);
  }

  function handoffNotice(text) {
    var node = el("div", { className: "sb-handoff", role: "status", "data-role": "handoff" });
    node.appendChild(icon("person", 20));
    node.appendChild(el("div", { className: "sb-handoff-text", text: text || T.handoff }));
    return append(node);
  }

  function errorNotice(text) {
    var node = el("div", { className: "sb-error", role: "alert" });
    node.appendChild(icon("alert", 20));
    node.appendChild(el("div", { className: "sb-error-text", text: text || T.failed }));
    append(node);
    scrollDown(true);
    return node;
  }

  function note(text) {
    return append(el("div", { className: "sb-note", role: "status", text: text }));
  }

  function showTyping() {
    hideTyping();
    var node = el("div", { className: "sb-msg sb-msg--bot sb-typing-msg" });
    node.appendChild(el("span", { className: "sb-sr", text: T.typing }));
    var bubble = el("div", { className: "sb-bubble sb-typing", "aria-hidden": "true" }, [
      el("i"),
      el("i"),
      el("i"),
    ]);
    node.appendChild(bubble);
    ui.typing = append(node);
  }
  function hideTyping() {
    if (ui.typing && ui.typing.parentNode) ui.typing.parentNode.removeChild(ui.typing);
    ui.typing = null;
  }

  function setConnectionNotice(text) {
    ui.conn.textContent = text || "";
    ui.conn.hidden = !text;
  }

  function renderHistoryMessage(m) {
    if (!m || typeof m !== "object") return;
    if (m.role === "user") addMessage("user", m.text);
    else if (m.role === "agent") {
      addMessage("agent", m.text);
      state.agentSeen += 1;
    } else if (m.role === "assistant") {
      if (m.action === "handoff" && !m.unattended) handoffNotice(m.text);
      else finishBotMessage(addMessage("assistant", ""), m);
    }
  }

  function renderGreeting() {
    var node = addMessage("assistant", OPTIONS.greeting);
    node.classList.add("sb-greeting");
  }

  // ------------------------------------------------------------------ open / close
  function openPanel(focus) {
    if (!state.open) {
      state.open = true;
      ui.panel.hidden = false;
      ui.root.classList.add("sb-open");
      ui.launcher.setAttribute("aria-expanded", "true");
      ui.launcher.setAttribute("aria-label", T.close);
      ui.launcher.replaceChild(icon("close", 26), ui.launcherIcon);
      ui.launcherIcon = ui.launcher.firstChild;
      setUnread(0);
      storageSet("sessionStorage", OPEN_KEY, "1");
      autosize();
      scrollDown(true);
    }
    if (focus) ui.input.focus();
  }
  function closePanel(focusLauncher) {
    if (state.open) {
      state.open = false;
      ui.panel.hidden = true;
      ui.root.classList.remove("sb-open");
      ui.launcher.setAttribute("aria-expanded", "false");
      ui.launcher.setAttribute("aria-label", T.open);
      ui.launcher.replaceChild(icon("chat", 28), ui.launcherIcon);
      ui.launcherIcon = ui.launcher.firstChild;
      storageSet("sessionStorage", OPEN_KEY, null);
    }
    if (focusLauncher) ui.launcher.focus();
  }
  function setUnread(n) {
    state.unread = n;
    ui.badge.hidden = !n;
    ui.badge.textContent = n ? String(n) : "";
    ui.launcher.setAttribute(
      "aria-label",
      state.open ? T.close : n ? T.open + " (" + T.unread(n) + ")" : T.open
    );
  }

  // ------------------------------------------------------------------ the API
  function api(path) {
    return SERVER + path;
  }
  function sleep(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }
  function saveToken(token) {
    state.token = token || null;
    storageSet("localStorage", TOKEN_KEY, state.token);
  }

  async function errorOf(response) {
    var fallback = { code: "http_" + response.status, message: T.failed };
    try {
      var body = await response.json();
      if (body && body.error && typeof body.error.message === "string") {
        return { code: String(body.error.code || fallback.code), message: body.error.message };
      }
    } catch (e) {
      /* not JSON */
    }
    return fallback;
  }

  var GONE = { gone: true };
  // the conversation so far: its JSON, GONE (404) or null (unreachable)
  async function fetchHistory(token) {
    try {
      var response = await fetch(api("/api/sessions/" + encodeURIComponent(token)), {
        headers: { accept: "application/json" },
        credentials: "omit",
        cache: "no-store",
      });
      if (response.status === 404) return GONE;
      if (!response.ok) return null;
      var body = await response.json();
      return body && Array.isArray(body.messages) ? body : null;
    } catch (e) {
      return null;
    }
  }

  function setHandoff(on) {
    state.handoff = !!on;
    ui.root.classList.toggle("sb-is-handoff", state.handoff);
    ui.status.textContent = state.handoff ? T.statusHuman : T.status;
    if (state.handoff) schedulePoll();
    else if (state.pollTimer) {
      clearTimeout(state.pollTimer);
      state.pollTimer = null;
    }
  }

  function schedulePoll() {
    if (state.pollTimer || !state.handoff) return;
    state.pollTimer = setTimeout(function () {
      state.pollTimer = null;
      poll().then(schedulePoll, schedulePoll);
    }, POLL_MS);
  }

  function showNewAgentMessages(history) {
    var agents = history.messages.filter(function (m) {
      return m && m.role === "agent";
    });
    var fresh = agents.slice(state.agentSeen);
    fresh.forEach(function (m) {
      addMessage("agent", m.text);
    });
    state.agentSeen = agents.length;
    if (fresh.length && !state.open) setUnread(state.unread + fresh.length);
  }

  async function poll() {
    if (!state.token || state.polling || !state.handoff) return;
    var generation = state.generation;
    state.polling = true;
    try {
      var history = await fetchHistory(state.token);
      if (generation !== state.generation || !history) return;
      if (history === GONE) {
        saveToken(null);
        setHandoff(false);
        return;
      }
      showNewAgentMessages(history);
      if (!state.busy) {
        state.known = history.messages.length;
        state.synced = true;
      }
      if (!history.handoff) {
        setHandoff(false);
        note(T.released);
      }
    } finally {
      state.polling = false;
    }
  }

  async function loadHistory() {
    var token = state.token;
    if (!token) return;
    var history = await fetchHistory(token);
    if (history === GONE) {
      saveToken(null); // expired or unknown: start fresh
      return;
    }
    if (!history) {
      state.synced = false; // unreachable now: keep the token, the next message continues
      return;
    }
    history.messages.forEach(renderHistoryMessage);
    // a clarifying question's buttons only while it is the last word
    var groups = ui.log.querySelectorAll(".sb-options");
    var last = history.messages[history.messages.length - 1];
    var open = last && last.role === "assistant" && last.action === "clarify";
    for (var g = 0; g < groups.length - (open ? 1 : 0); g++) {
      groups[g].parentNode.removeChild(groups[g]);
    }
    state.known = history.messages.length;
    state.synced = true;
    setHandoff(history.handoff || history.state === "handoff");
    scrollDown(true);
  }

  // Parse one Server-Sent Events block ("event: x\ndata: {...}").
  function parseEvent(block) {
    var name = "message";
    var lines = [];
    block.split("\n").forEach(function (line) {
      if (!line || line[0] === ":") return;
      var colon = line.indexOf(":");
      var field = colon < 0 ? line : line.slice(0, colon);
      var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") lines.push(value);
    });
    if (!lines.length) return null;
    try {
      return { name: name, data: JSON.parse(lines.join("\n")) };
    } catch (e) {
      return null;
    }
  }

  // One attempt at streaming an answer. Resolves to {ok}, or to the failure:
  // {kind: "http", status, code, message} | {kind: "error", message} | {kind: "network"}.
  async function streamOnce(text, generation, messageId) {
    // the same message_id on every try: a message the server already answered is not
    // answered twice, however the connection failed
    var body = { text: text, message_id: messageId };
    if (state.token) body.session_id = state.token;
    var response;
    try {
      response = await fetch(api("/api/chat/stream"), {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (e) {
      return { kind: "network" };
    }
    if (!response.ok) {
      var problem = await errorOf(response);
      return {
        kind: "http",
        status: response.status,
        code: problem.code,
        message: problem.message,
      };
    }

    var view = { node: null, deltas: 0 };
    var outcome = null;
    function handle(event) {
      if (generation !== state.generation) return;
      var d = event.data || {};
      if (event.name === "session" && typeof d.session_id === "string") {
        if (d.session_id !== state.token) {
          state.known = 0;
          state.agentSeen = 0;
          state.synced = true;
        }
        saveToken(d.session_id);
      } else if (event.name === "delta" && typeof d.text === "string") {
        if (!view.node) {
          hideTyping();
          view.node = addMessage("assistant", "");
          view.node.classList.add("sb-streaming");
        }
        view.deltas += 1;
        view.node.setAttribute("data-deltas", String(view.deltas));
        var following = nearBottom(); // measured before the text grows
        view.node.querySelector(".sb-text").textContent += d.text;
        scrollDown(following);
      } else if (event.name === "reply") {
        outcome = { ok: true };
        showReply(d, view);
      } else if (event.name === "error") {
        outcome = { kind: "error", message: typeof d.message === "string" ? d.message : "" };
      }
    }

    try {
      if (response.body && response.body.getReader) {
        var reader = response.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        for (;;) {
          var chunk = await reader.read();
          if (chunk.done) break;
          buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, "\n");
          var cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            var event = parseEvent(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            if (event) handle(event);
          }
        }
        var last = parseEvent(buffer + decoder.decode());
        if (last) handle(last);
      } else {
        (await response.text())
          .replace(/\r\n?/g, "\n")
          .split("\n\n")
          .forEach(function (block) {
            var event = parseEvent(block);
            if (event) handle(event);
          });
      }
    } catch (e) {
      /* the connection broke mid-stream: decided below */
    }
    if (outcome && outcome.ok) return outcome;
    if (view.node && view.node.parentNode) view.node.parentNode.removeChild(view.node);
    return outcome || { kind: "network", started: true };
  }

  function showReply(reply, view) {
    hideTyping();
    var silent = !!reply.silent;
    // an unattended handoff (nobody can take over) is an answer: no notice, no "joined"
    var handoff = (reply.action === "handoff" && !reply.unattended) || reply.handoff === true;
    state.known += silent ? 1 : 2;
    if (silent || handoff) {
      if (view.node && view.node.parentNode) view.node.parentNode.removeChild(view.node);
      if (!silent) handoffNotice(reply.text);
      setHandoff(true);
      return;
    }
    var node = view.node || addMessage("assistant", "");
    var following = nearBottom(); // measured before the sources and cards are added
    node.setAttribute("data-deltas", String(view.deltas));
    finishBotMessage(node, reply);
    scrollDown(following);
  }

  // After a failure: did the server store the message anyway? Then show what it stored.
  async function recovered(text, generation) {
    if (!state.token) return false;
    var history = await fetchHistory(state.token);
    if (generation !== state.generation) return true;
    if (history === GONE) {
      saveToken(null);
      return false;
    }
    if (!history) return false;
    var messages = history.messages;
    var at = -1;
    if (state.synced) {
      // the first customer turn stored since the last one this page accounted for
      for (var i = state.known; i < messages.length; i++) {
        if (messages[i] && messages[i].role === "user") {
          at = i;
          break;
        }
      }
    } else {
      // the count is a guess: only the same text as the last customer turn will do
      for (var j = messages.length - 1; j >= 0; j--) {
        if (messages[j] && messages[j].role === "user") {
          if (String(messages[j].text || "").trim() === text.trim()) at = j;
          break;
        }
      }
    }
    if (at < 0) return false;
    hideTyping();
    messages.slice(at + 1).forEach(function (m) {
      if (m && m.role === "assistant") renderHistoryMessage(m);
    });
    showNewAgentMessages(history);
    state.known = messages.length;
    state.synced = true;
    setHandoff(history.handoff || history.state === "handoff");
    return true;
  }

  function newMessageId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return "m_" + window.crypto.randomUUID();
    }
    return "m_" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  // The message did not get through: say so, and give its text back for another try.
  function notSent(node, text) {
    if (node && !node.classList.contains("sb-failed")) {
      node.classList.add("sb-failed");
      node.appendChild(el("div", { className: "sb-failed-label", text: T.notSent }));
    }
    if (!ui.input.value.trim()) {
      ui.input.value = text;
      autosize();
    }
  }

  async function deliver(text, node) {
    var generation = state.generation;
    var restarted = false;
    var messageId = newMessageId();
    showTyping();
    try {
      for (var attempt = 0; ; attempt++) {
        var result = await streamOnce(text, generation, messageId);
        if (generation !== state.generation || result.ok) return;
        if (result.kind === "http" && result.status === 404 && !restarted) {
          // the conversation expired on the server: continue in a new one
          restarted = true;
          saveToken(null);
          state.known = 0;
          state.agentSeen = 0;
          state.synced = true;
          setHandoff(false);
          attempt -= 1;
          continue;
        }
        if (result.kind === "error" || (result.kind === "http" && result.status < 500)) {
          hideTyping();
          notSent(node, text);
          errorNotice(result.message || T.failed);
          return;
        }
        // unreachable, a 5xx, or a stream cut short: wait, then check before sending again
        if (attempt >= RETRY_DELAYS_MS.length) {
          hideTyping();
          notSent(node, text);
          errorNotice(T.offline);
          return;
        }
        setConnectionNotice(T.retrying);
        showTyping();
        await sleep(RETRY_DELAYS_MS[attempt]);
        if (generation !== state.generation) return;
        if (result.kind === "network" && (await recovered(text, generation))) return;
      }
    } finally {
      if (generation === state.generation) {
        setConnectionNotice("");
        hideTyping();
      }
    }
  }

  function setBusy(busy) {
    state.busy = busy;
    ui.send.disabled = busy;
    ui.root.setAttribute("aria-busy", busy ? "true" : "false");
    ui.host.setAttribute("data-busy", busy ? "true" : "false");
  }

  async function run(task) {
    var generation = state.generation;
    setBusy(true);
    try {
      await task();
    } catch (e) {
      if (generation === state.generation) {
        hideTyping();
        errorNotice(T.failed);
      }
    } finally {
      if (generation === state.generation) {
        // (after a restart, the new conversation owns the busy state and the queue)
        setBusy(false);
        if (state.queue.length) send(state.queue.shift());
      }
    }
  }

  function send(text) {
    if (typeof text !== "string" || !text.trim()) return;
    if (state.busy) {
      state.queue.push(text);
      return;
    }
    clearOptions();
    var node = addMessage("user", text);
    scrollDown(true);
    run(function () {
      return deliver(text, node);
    });
  }

  function submit() {
    if (state.busy) return;
    var text = ui.input.value;
    if (!text.trim()) {
      ui.input.focus();
      return;
    }
    ui.input.value = "";
    autosize();
    send(text);
  }

  function restartConversation() {
    state.generation += 1;
    state.queue = [];
    saveToken(null);
    setHandoff(false);
    state.known = 0;
    state.agentSeen = 0;
    state.synced = true;
    setUnread(0);
    setConnectionNotice("");
    ui.typing = null;
    while (ui.log.firstChild) ui.log.removeChild(ui.log.firstChild);
    setBusy(false);
    renderGreeting();
    ui.input.focus();
  }

  // ------------------------------------------------------------------ start
  var started = false;
  var pending = [];
  function start() {
    if (started) return;
    started = true;
    build();
    renderGreeting();
    if (OPTIONS.open || storageGet("sessionStorage", OPEN_KEY) === "1") openPanel(false);
    if (state.token) {
      run(loadHistory);
    } else {
      setBusy(false);
    }
    pending.forEach(function (call) {
      call();
    });
    pending = [];
  }
  function whenStarted(call) {
    if (started) call();
    else pending.push(call);
  }

  window.ShopbotWidget = {
    version: VERSION,
    open: function () {
      whenStarted(function () {
        openPanel(true);
      });
    },
    close: function () {
      whenStarted(function () {
        closePanel(false);
      });
    },
    ask: function (text) {
      whenStarted(function () {
        openPanel(true);
        send(String(text == null ? "" : text));
      });
    },
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
