vcl 4.1;

# Varnish in front of Tribune edges.
#
# Written for Varnish 7.1 (Debian 12) and tested with it: test/integration/proxy-varnish.test.ts
# runs `varnishd -f` on this file (the edge's port swapped for a temporary one) in front of a real
# edge and plays a Space through it. Run it with, for example:
#   varnishd -a :80 -f /etc/varnish/tribune.vcl -s malloc,1g -p thread_pool_max=10000
# (TLS terminates in front: hitch or nginx, with PROXY protocol: `-a :6086,PROXY`.)
#
# What it does:
#   - LL-HLS objects (playlists, parts, segments, init, clips) and the public view.json are cached
#     for as long as the edge's Cache-Control says (parts and segments immutable, live playlists
#     1-2 s). Identical misses wait on Varnish's waiting list for ONE edge request, blocking
#     playlist reloads (`audio.m3u8?_HLS_msn=&_HLS_part=`) included: every waiter gets the answer
#     the moment it arrives.
#   - The cache key is the URL WITHOUT the per-listener parameters (`lid`, `token`, `admission`):
#     `_HLS_msn`/`_HLS_part` stay in it, so each blocking reload has its own object.
#   - Spaces that require sign-in are never stored: requests carrying a listen token are passed,
#     and whatever the edge answers `private` / `no-store` / `no-cache` is never stored.
#   - stream.mp4 (one endless response per listener) is piped; state.json (the edge counts
#     listeners from these polls, by `lid`), admit, POSTs, /api and /whip are passed.
#   - X-Forwarded-For is the listener's address: run the edges with TRIBUNE_TRUST_PROXY=true.
#
# Weak points for LL-HLS, measured (figures: test/integration/proxy-varnish.test.ts and one-off
# runs on one machine; README, "nginx or Varnish in front of edges"):
#   - The builtin VCL makes any answer it may not store a "hit-for-miss" for 120 s (a refusal, a
#     400 for a blocking reload asked too early...): that URL then skips the waiting list. With
#     it, a reload refused as too early and then asked by 40 listeners cost the edge 40 requests;
#     with the 1 s here, 1.
#   - An uncacheable answer with a zero TTL (no hit-for-miss object) releases the waiting list
#     ONE request at a time: 8 waiters on a 300 ms uncacheable answer took 2.4 s.
#   - Waiters on an uncacheable answer wait for it for nothing, then fetch their own: their
#     latency doubles (requests with a listen token are passed, so they never wait).
#   - The default grace (10 s) serves expired live playlists (one 4 s old was served for a
#     max-age=2 object); grace is 0 here for LL-HLS.
#   - Each piped stream.mp4 listener holds a worker thread (400 piped streams: 408 threads);
#     size thread_pool_max for them. Passing instead would cut every stream after send_timeout
#     (600 s by default), and a stream.mp4 listener that stops reading hides in the socket
#     buffers: the edge still had it 3 minutes later (about 2 s when it faces the listener).

import directors;
import proxy;

# ---------------------------------------------------------------------------------------- edges
# One backend per edge process (`node dist/cli.js edge --port 8081 --origin http://origin:8080`,
# with TRIBUNE_TRUST_PROXY=true and the deployment's TRIBUNE_TOKEN_SECRET).
backend edge1 {
    .host = "127.0.0.1";
    .port = "8081";
    .connect_timeout = 2s;
    # A blocking playlist reload is held by the origin up to 3 s, and an edge waits for its origin
    # up to 10 s: more than both.
    .first_byte_timeout = 15s;
    .between_bytes_timeout = 10s;
    .probe = {
        .url = "/healthz";
        .interval = 2s;
        .timeout = 1s;
        .window = 5;
        .threshold = 3;
        .initial = 3;
    }
}

sub vcl_init {
    # Misses are few here (one per object per Varnish), so any balancing works.
    new edges = directors.round_robin();
    edges.add_backend(edge1);
}

# ---------------------------------------------------------------------------------------- requests
sub vcl_recv {
    set req.backend_hint = edges.backend();

    # Overwrite, never append (Varnish has appended client.ip to any X-Forwarded-For the client
    # sent): the edge takes the FIRST entry, which a listener could otherwise choose. With PROXY
    # protocol from a TLS terminator, client.ip is the listener.
    set req.http.X-Forwarded-For = client.ip;
    if (proxy.is_ssl()) {
        set req.http.X-Forwarded-Proto = "https";
    } else {
        set req.http.X-Forwarded-Proto = "http";
    }

    # Edge metrics are for your Prometheus, which scrapes the edges directly.
    if (req.url ~ "^/metrics(\?|$)") {
        return (synth(404));
    }
    if (req.url ~ "^/healthz(\?|$)") {
        return (pass);                   # a health check must reach an edge
    }

    # POST leave / reactions, /api, /whip, CORS preflights: straight to the edge.
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }

    if (req.url ~ "^/hls/spaces/[^/]+/stream\.mp4(\?|$)") {
        # One chunked response per listener for as long as the Space is live: piped, so nothing
        # is buffered and no total send timeout (send_timeout, 600 s) cuts it. Costs a thread.
        return (pipe);
    }
    if (req.url ~ "^/hls/spaces/[^/]+/(state\.json|admit)(\?|$)") {
        # The edge counts listeners from state polls (by lid) and collapses them itself; admit
        # hands out a place per listener: never shared.
        return (pass);
    }
    if (req.url ~ "^/hls/(spaces|clips)/") {
        # A listen token means a Space that requires sign-in: per listener, never stored, and
        # such a request never waits behind other listeners' requests.
        if (req.url ~ "[?&]token=" || req.http.X-Tribune-Listen-Token) {
            return (pass);
        }
        # The edge reads no cookie here; the app's session cookie must not make it uncacheable.
        unset req.http.Cookie;
        return (hash);
    }
    if (req.url ~ "^/hls/") {
        return (pass);                   # operator endpoints: /hls/admission, /hls/rehearsal
    }
    if (req.url ~ "^/(api|whip)/") {
        return (pass);
    }
    if (req.url ~ "^/assets/") {
        unset req.http.Cookie;           # content-hashed files, cached a year
        return (hash);
    }
    # The app shell: the builtin rules (index.html is `no-cache` with an ETag).
}

sub vcl_pipe {
    set bereq.http.Connection = "close";
    return (pipe);
}

sub vcl_hash {
    if (req.url ~ "^/hls/") {
        # The URL without lid, token and admission (each occurrence removed, separators tidied).
        hash_data(regsub(regsub(regsuball(regsuball(req.url,
            "([?&])(?:lid|token|admission)=[^&]*", "\1"), "&{2,}", "&"), "\?&", "?"), "[?&]$", ""));
    } else {
        hash_data(req.url);
    }
    if (req.http.host) {
        hash_data(req.http.host);
    } else {
        hash_data(server.ip);
    }
    return (lookup);
}

# ---------------------------------------------------------------------------------------- answers
sub vcl_backend_response {
    if (bereq.url ~ "^/hls/(spaces|clips)/") {
        if (beresp.ttl <= 0s || beresp.http.Set-Cookie ||
            beresp.http.Cache-Control ~ "(?i)private|no-store|no-cache") {
            # Sign-in Spaces, errors, refusals, held state: never stored. The waiters of this
            # fetch go to the edge themselves, and so do requests for the next second (a short
            # hit-for-miss; the builtin's 120 s would keep this URL off the waiting list for two
            # minutes, e.g. a blocking reload refused as too early, then asked by everyone).
            set beresp.uncacheable = true;
            set beresp.ttl = 1s;
            set beresp.grace = 0s;
            return (deliver);
        }
        # Stale playlists are wrong playlists: no grace (the builtin default is 10 s), no keep.
        set beresp.grace = 0s;
        set beresp.keep = 0s;
        # Parts and segments are immutable (a year); a day in this cache is plenty.
        if (beresp.ttl > 1d) {
            set beresp.ttl = 1d;
        }
        return (deliver);
    }
    # Everything else: the builtin rules.
}

sub vcl_backend_error {
    # No edge answered: Tribune's JSON error shape instead of the builtin HTML page.
    set beresp.status = 502;
    set beresp.http.Content-Type = "application/json; charset=utf-8";
    set beresp.http.Cache-Control = "no-store";
    set beresp.http.Retry-After = "2";
    set beresp.body = """{"error":{"code":"ORIGIN_UNAVAILABLE","message":"No edge answered"}}""";
    # Not stored; the waiters of this fetch retry at once, in parallel (a zero-TTL uncacheable
    # object would release them one at a time, each waiting for its own failure).
    set beresp.uncacheable = true;
    set beresp.ttl = 1s;
    set beresp.grace = 0s;
    return (deliver);
}

sub vcl_deliver {
    # HIT (waiting-list waiters included), MISS (fetched for this request), PASS, HITMISS.
    if (req.is_hitmiss) {
        set resp.http.X-Proxy-Cache = "HITMISS";
    } else if (req.is_hitpass || obj.uncacheable) {
        set resp.http.X-Proxy-Cache = "PASS";
    } else if (obj.hits > 0) {
        set resp.http.X-Proxy-Cache = "HIT";
    } else {
        set resp.http.X-Proxy-Cache = "MISS";
    }
}

sub vcl_synth {
    set resp.http.Content-Type = "application/json; charset=utf-8";
    set resp.http.Cache-Control = "no-store";
    if (resp.status == 404) {
        set resp.body = """{"error":{"code":"NOT_FOUND","message":"Not found"}}""";
    } else {
        set resp.body = {"{"error":{"code":"INTERNAL","message":""} + resp.reason + """"}}""";
    }
    return (deliver);
}
