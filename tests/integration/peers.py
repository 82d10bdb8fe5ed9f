"""Reusable loopback test peers for deckhand's integration tests.

* ``ScriptedPeer``: an HTTPS/1.1 server (Python http.server + ssl) on
  127.0.0.1 and a free port that answers each request with the next ``Reply``
  of a script (the last one repeats) and records every request it saw
  (method, path, headers, body, whether it sent ``100 Continue``).  Replies
  can be delayed, streamed in chunks, sent with chunked transfer-encoding or
  be far larger than a client's cap.
* ``ConnectProxy``: a plain-TCP HTTP proxy that only does ``CONNECT`` tunnels
  to loopback targets and records each target.

Both bind 127.0.0.1 port 0, run in daemon threads, work as context managers
and are always stopped by ``stop()``.  Only the standard library is used,
so any test run with /usr/bin/python3 can import this module.
"""
import http.server
import select
import socket
import socketserver
import ssl
import threading


class Reply:
    """One scripted answer.

    status, headers (list of (name, value)) and body (bytes) are sent as
    given.  delay: seconds to wait before answering (interrupted by stop()).
    chunked: send the body with Transfer-Encoding: chunked.  stream: send
    this many filler bytes instead of body, in 64 KiB writes (the declared
    Content-Length is then ``stream`` unless chunked).  close: close the
    connection after answering.  drop: close the connection without any
    answer (a connection failure as the client sees it).
    """

    def __init__(self, status=200, body=b"", headers=None, delay=0.0,
                 chunked=False, stream=0, close=False, drop=False):
        if isinstance(body, str):
            body = body.encode()
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        self.delay = delay
        self.chunked = chunked
        self.stream = stream
        self.close = close
        self.drop = drop


def json_error(status, code, message="scripted error"):
    """A Reply shaped like an AWS JSON 1.1 service error."""
    import json
    return Reply(status, json.dumps({"__type": code, "message": message}),
                 [("Content-Type", "application/x-amz-json-1.1"),
                  ("x-amzn-RequestId", "req-" + code)])


def s3_error(status, code, message="scripted error"):
    """A Reply shaped like an S3 REST-XML error."""
    body = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
            '<Message>%s</Message><RequestId>RID123</RequestId></Error>'
            % (code, message))
    return Reply(status, body, [("Content-Type", "application/xml")])


class Request:
    """What the peer saw: method, path (with query), headers (list of
    (name, value) in arrival order), body (bytes), sent_100 (bool)."""

    def __init__(self, method, path, headers, body, sent_100):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.sent_100 = sent_100

    def header(self, name):
        """First value of header name (case-insensitive) or None."""
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 15

    def log_message(self, fmt, *args):
        pass

    def handle_expect_100(self):
        self._sent_100 = True
        return super().handle_expect_100()

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = bytearray()
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline(16)
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _serve(self):
        peer = self.server.peer
        body = self._read_body()
        sent_100 = getattr(self, "_sent_100", False)
        self._sent_100 = False
        reply = peer._record(Request(self.command, self.path,
                                     list(self.headers.items()), body,
                                     sent_100))
        if reply.delay and peer._stop.wait(reply.delay):
            self.close_connection = True
            return
        if reply.drop:
            self.close_connection = True
            return
        try:
            self._answer(reply)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def _answer(self, reply):
        self.send_response(reply.status)
        names = {k.lower() for k, _ in reply.headers}
        for k, v in reply.headers:
            self.send_header(k, v)
        length = reply.stream if reply.stream else len(reply.body)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif "content-length" not in names:
            self.send_header("Content-Length", str(length))
        if reply.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.stream:
            block = b"x" * 65536
            left = reply.stream
            while left > 0 and not self.server.peer._stop.is_set():
                part = block[:min(left, len(block))]
                self._write(part, reply.chunked)
                left -= len(part)
        elif reply.body:
            self._write(reply.body, reply.chunked)
        if reply.chunked:
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write(self, data, chunked):
        if chunked:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        else:
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = _serve


class _TLSServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's thread, so a client
        # that rejects our certificate cannot stall the accept loop.
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with self.peer._lock:
                self.peer.tls_failures += 1
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass


class ScriptedPeer:
    """HTTPS peer with a reply script; see the module docstring."""

    def __init__(self, certfile, keyfile, script=None):
        self.requests = []
        self.tls_failures = 0
        self._script = list(script or [Reply(200, b"{}")])
        self._next = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ctx.load_cert_chain(str(certfile), str(keyfile))
        self._server = None
        self._thread = None

    def set_script(self, script):
        """Replace the script and restart it from its first reply."""
        with self._lock:
            self._script = list(script)
            self._next = 0

    def _record(self, req):
        with self._lock:
            self.requests.append(req)
            reply = self._script[min(self._next, len(self._script) - 1)]
            self._next += 1
            return reply

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def start(self):
        self._server = _TLSServer(("127.0.0.1", 0), _Handler)
        self._server.ctx = self._ctx
        self._server.peer = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self):
        proxy = self.server.proxy
        self.request.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.request.recv(4096)
            if not data or len(head) > 16384:
                return
            head += data
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) != 3 or parts[0] != "CONNECT":
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n"
                                 b"Content-Length: 0\r\n\r\n")
            return
        host, _, port = parts[1].rpartition(":")
        with proxy._lock:
            proxy.connects.append(parts[1])
        if host not in ("127.0.0.1", "localhost"):
            self.request.sendall(b"HTTP/1.1 403 Forbidden\r\n"
                                 b"Content-Length: 0\r\n\r\n")
            return
        with proxy._lock:
            mitm = proxy.mitm is not None and proxy.mitm_skip == 0
            if proxy.mitm is not None and proxy.mitm_skip > 0:
                proxy.mitm_skip -= 1
        if mitm:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _mitm(proxy, self.request)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", int(port)), 5)
        except OSError:
            self.request.sendall(b"HTTP/1.1 502 Bad Gateway\r\n"
                                 b"Content-Length: 0\r\n\r\n")
            return
        self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)
        socks = [self.request, upstream]
        try:
            while not proxy._stop.is_set():
                ready, _, _ = select.select(socks, [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.request else self.request).sendall(data)
        except OSError:
            return
        finally:
            upstream.close()


class _ProxyServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass


def _mitm(proxy, sock):
    """Answer the tunnel's TLS handshake ourselves with proxy.mitm (cert,
    key) and record the client's verdict in proxy.mitm_results: "refused"
    (it aborted the handshake), "closed" (it completed the handshake, then
    closed without sending a byte, as libcurl does when the host name does
    not match) or "leaked" (it sent application data to us)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*proxy.mitm)
    try:
        t = ctx.wrap_socket(sock, server_side=True)
    except (ssl.SSLError, OSError):
        result = "refused"
    else:
        t.settimeout(2)
        try:
            result = "leaked" if t.recv(1) else "closed"
        except (ssl.SSLError, OSError):
            result = "closed"
        t.close()
    with proxy._lock:
        proxy.mitm_results.append(result)


class ConnectProxy:
    """CONNECT-only proxy on 127.0.0.1; ``connects`` lists "host:port"
    targets in order.  With ``mitm`` set to (cert, key) it stops tunnelling
    new connections (after the next ``mitm_skip`` ones) and answers their
    TLS handshakes itself, appending the client's verdict to
    ``mitm_results`` (see _mitm)."""

    def __init__(self):
        self.connects = []
        self.mitm = None
        self.mitm_skip = 0
        self.mitm_results = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server = None
        self._thread = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self._server = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.proxy = self
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def pipe_bytes(a, b):
    """Copy bytes from socket a to socket b until either side ends, then shut
    both down (the pump of a TCP forwarder; run one per direction)."""
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
