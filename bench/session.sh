#!/bin/sh
# Session benchmark (issue 4): output throughput of `cat` of a large file
# through deckhand-agent -> deckhand-gateway -> `deckhand session start`,
# keystroke echo latency (p50/p99) through the same path, and the session
# worker's memory (VmRSS, PSS and private bytes; idle, during the transfer,
# and with 5 sessions open at once; the agent trusts the system roots plus
# the gateway's CA, as a host that talks to AWS does), next to raw baselines measured in the same run: the same
# file through a plain pty (`script` copying it to a file) and through a plain
# TLS loopback socket.  The throughput run drives the CLI non-interactively
# (stdin a pipe, stdout a pipe drained with 1 MiB reads) so the harness is not
# the bottleneck; bytes/s is taken from the first to the last payload byte,
# with the CPU seconds each process spent over the same span.
# Prints numbers, asserts nothing.
#   sh bench/session.sh [BUILD] [MiB] [ECHO_SAMPLES]
# BENCH_SMAPS=1 also lists the idle worker's largest private mappings.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build/release}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
MIB=${2:-50}
SAMPLES=${3:-300}
export DH_BUILD="$BUILD" BENCH_MIB="$MIB" BENCH_SAMPLES="$SAMPLES"
cd "$ROOT/tests/integration"
exec /usr/bin/python3 - <<'PY'
import fcntl, os, re, select, socket, ssl, statistics, subprocess, sys, tempfile, threading, time, tty, pathlib

sys.path.insert(0, os.getcwd())
from conftest import make_cert                                      # noqa: E402
from test_agent_register import Gateway, _register, _wait_online, _wait_log, _agent_env  # noqa: E402
from test_session_e2e import Cli                                    # noqa: E402

BUILD = os.environ["DH_BUILD"]
SIZE = int(os.environ["BENCH_MIB"]) * 1024 * 1024
SAMPLES = int(os.environ["BENCH_SAMPLES"])
MULTI = 5


def drain(fd, want, marker=None):
    """The harness reader used everywhere: select + 1 MiB reads."""
    got = 0
    t0 = time.monotonic()
    while got < want:
        r, _, _ = select.select([fd], [], [], 5)
        if not r:
            break
        c = os.read(fd, 1 << 20)
        if not c:
            break
        got += len(c)
    return got, time.monotonic() - t0


def raw_pty(path):
    """The same file through a plain pty, copied out by script(1) into a file."""
    out = path.with_suffix(".pty")
    t0 = time.monotonic()
    with open(out, "wb") as o:
        subprocess.run(["script", "-qfc", "stty raw -echo; cat %s" % path, "/dev/null"],
                       stdin=subprocess.DEVNULL, stdout=o, check=True)
    dt = time.monotonic() - t0
    got = out.stat().st_size
    out.unlink()
    return got / dt / 1e6


def ticks(pid):
    """utime + stime of pid, in seconds (0 once it is gone)."""
    try:
        f = pathlib.Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def syscalls(pid):
    """(read-type, write-type) system calls pid has made so far."""
    try:
        io = pathlib.Path("/proc/%d/io" % pid).read_text()
        return (int(re.search(r"syscr: (\d+)", io).group(1)),
                int(re.search(r"syscw: (\d+)", io).group(1)))
    except (OSError, AttributeError):
        return (0, 0)


def busy_cpu():
    """Non-idle CPU seconds of the whole machine (all CPUs)."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f[:8]) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def piped_session(gw, iid, path, log_path, agent_pid):
    """`deckhand session start` with stdin and stdout pipes: the shell cats
    the file between two markers; throughput from first to last byte."""
    env = gw.aws_env()
    p = subprocess.Popen([BUILD + "/deckhand", "session", "start", "--target", iid,
                          "--endpoint-url", gw.url],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=env, start_new_session=True)
    fd = p.stdout.fileno()
    try:
        fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ
    except OSError:
        pass
    p.stdin.write(b"stty raw -echo; printf 'BEGIN-%%s' XYZZY; cat %s; printf 'END-%%s' XYZZY;"
                  b" stty sane; exit\r" % str(path).encode())
    p.stdin.flush()
    # one reused 1 MiB buffer: a fresh bytes object per read costs the
    # harness page faults and copies that the pipeline then has to share the
    # two CPUs with
    buf = bytearray(1 << 20)
    mv = memoryview(buf)
    head = bytearray()
    tail = b""
    t0 = t1 = 0.0
    payload = -1
    wpid = 0
    busy = (0, 0, 0, 0)
    while True:
        r, _, _ = select.select([fd], [], [], 30)
        if not r:
            raise SystemExit("piped transfer stalled")
        n = os.readv(fd, [buf])
        if n == 0:
            raise SystemExit("session ended before END marker")
        start = 0
        if payload < 0:
            head += mv[:n]
            i = head.find(b"BEGIN-XYZZY")
            if i < 0:
                continue
            t0 = time.monotonic()
            pids = re.findall(r"worker (\d+) started", log_path.read_text())
            wpid = int(pids[-1]) if pids else 0
            who = {"worker": wpid, "gateway": gw.proc.pid, "deckhand": p.pid, "agent": agent_pid}
            cpu0 = {k: ticks(v) for k, v in who.items()}
            cpu0["machine"] = busy_cpu()
            sc0 = syscalls(wpid)
            start = n - (len(head) - i - len(b"BEGIN-XYZZY"))
            payload = 0
        edge = tail + bytes(mv[start:min(n, start + 16)])
        e = edge.find(b"END-XYZZY")
        if e >= 0:
            e -= len(tail)
        else:
            e = buf.find(b"END-XYZZY", start, n)
            if e >= 0:
                e -= start
        if e >= 0:
            t1 = time.monotonic()
            cpu = {k: ticks(v) - cpu0[k] for k, v in who.items()}
            cpu["machine"] = busy_cpu() - cpu0["machine"]
            sc1 = syscalls(wpid)
            cpu["syscr"], cpu["syscw"] = sc1[0] - sc0[0], sc1[1] - sc0[1]
            payload += e
            break
        payload += n - start
        tail = (tail + bytes(mv[max(start, n - 16):n]))[-16:]
        if busy == (0, 0, 0, 0) and wpid and payload > SIZE // 2:
            busy = mem(wpid)
    p.stdin.close()
    p.wait(30)
    return payload, t1 - t0, busy, cpu


def raw_tls(tmp):
    cert, key = make_cert(tmp)
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    cctx = ssl.create_default_context(cafile=str(cert))
    cctx.check_hostname = False
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    blob = os.urandom(1 << 20)

    def serve():
        c, _ = ls.accept()
        with sctx.wrap_socket(c, server_side=True) as t:
            sent = 0
            while sent < SIZE:
                t.sendall(blob)
                sent += len(blob)
    th = threading.Thread(target=serve, daemon=True)
    th.start()
    s = cctx.wrap_socket(socket.create_connection(ls.getsockname()))
    got, t0 = 0, time.monotonic()
    while got < SIZE:
        c = s.recv(1 << 20)
        if not c:
            break
        got += len(c)
    dt = time.monotonic() - t0
    s.close()
    th.join(5)
    return got / dt / 1e6


def mem(pid):
    st = pathlib.Path("/proc/%d/status" % pid).read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1))
    anon = int(re.search(r"RssAnon:\s+(\d+)", st).group(1))
    pss = uss = 0
    try:
        sm = pathlib.Path("/proc/%d/smaps_rollup" % pid).read_text()
        pss = int(re.search(r"^Pss:\s+(\d+)", sm, re.M).group(1))
        uss = sum(int(v) for v in re.findall(r"^Private_(?:Clean|Dirty):\s+(\d+)", sm, re.M))
    except OSError:
        pass
    return rss, anon, pss, uss


def top_private(pid):
    """Print the mappings holding the most private memory (BENCH_SMAPS=1)."""
    rows, cur = [], None
    for line in pathlib.Path("/proc/%d/smaps" % pid).read_text().splitlines():
        f = line.split()
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            cur = [0, f[5] if len(f) > 5 else "[anon]", f[0]]
            rows.append(cur)
        elif f[0] in ("Private_Clean:", "Private_Dirty:") and cur is not None:
            cur[0] += int(f[1])
    rows.sort(reverse=True)
    print("worker %d private memory by mapping (kB):" % pid)
    for kb, name, rng in rows[:12]:
        print("  %6d  %s %s" % (kb, name, rng))


def main():
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="dh-bench-session-"))
    big = tmp / "big.bin"
    with open(big, "wb") as f:
        left = SIZE
        while left > 0:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
    os.chmod(tmp, 0o711)  # the session shell runs as the session user
    os.chmod(big, 0o644)
    base_pty = raw_pty(big)
    base_tls = raw_tls(tmp)
    gw = Gateway(BUILD, tmp / "gw")
    # the agent and CLI trust the system roots plus the gateway's CA, as a
    # host that also talks to AWS does (the roots are most of a TLS
    # client's heap: see common/dh_tls.h)
    bundle = tmp / "bundle.pem"
    bundle.write_bytes(pathlib.Path("/etc/ssl/certs/ca-certificates.crt").read_bytes() +
                       pathlib.Path(gw.ca).read_bytes())
    gw.ca = bundle
    agent = None
    try:
        act = gw.aws("ssm", "create-activation", "--iam-role", "SSMServiceRole", "--registration-limit", "1")
        reg = _register(BUILD, gw, act, tmp / "agent")
        assert reg.returncode == 0, reg.stderr
        iid = re.search(r"instance (mi-[0-9a-f]+)", reg.stdout).group(1)
        log_path = tmp / "agent.log"
        log = open(log_path, "wb")
        agent = subprocess.Popen([BUILD + "/deckhand-agent", "run", "--state", str(tmp / "agent")],
                                 stdout=log, stderr=log,
                                 env=_agent_env(gw, DECKHAND_SESSION_SPOOL_DIR=str(tmp / "spool")))
        assert _wait_online(gw, iid) and _wait_log(log_path, r"control channel: open")
        cli = Cli(BUILD, gw, iid)
        cli.read_until(rb"Starting session with SessionId")
        cli.send("echo ready-$((1+1))\r")
        cli.read_until(rb"ready-2")
        wpid = int(re.findall(r"worker (\d+) started", log_path.read_text())[-1])
        idle_mem = mem(wpid)
        if os.environ.get("BENCH_SMAPS"):
            top_private(wpid)
        # keystroke echo: one byte out, wait for its echo
        lat = []
        for i in range(SAMPLES):
            ch = b"abcdefghij"[i % 10:i % 10 + 1]
            n0 = len(cli.buf)
            t0 = time.monotonic()
            cli.send(ch)
            while True:
                r, _, _ = select.select([cli.master], [], [], 5)
                if not r:
                    raise SystemExit("echo timed out")
                cli.buf += os.read(cli.master, 65536)
                if ch in cli.buf[n0:]:
                    break
            lat.append((time.monotonic() - t0) * 1000)
        cli.send(b"\x15")  # ^U: drop the typed line
        # memory with MULTI sessions open at once: what each one adds
        more = []
        for _ in range(MULTI - 1):
            c = Cli(BUILD, gw, iid)
            c.read_until(rb"Starting session with SessionId")
            c.send("echo ready-$((2+2))\r")
            c.read_until(rb"ready-4")
            more.append(c)
        time.sleep(0.5)
        wpids = [int(p) for p in re.findall(r"worker (\d+) started", log_path.read_text())[-MULTI:]]
        multi = [mem(p) for p in wpids]
        for c in more + [cli]:
            c.send("exit\r")
            c.read_until(rb"Exiting session", timeout=30)
            c.finish()
        n, dt, busy_mem, cpu = piped_session(gw, iid, big, log_path, agent.pid)
        if n != SIZE:
            raise SystemExit("piped transfer moved %d bytes, expected %d" % (n, SIZE))
        lat.sort()
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print("session output, %d MiB of /dev/urandom bytes:" % (SIZE >> 20))
        print("  raw pty (script -qfc cat > file) %7.1f MB/s" % base_pty)
        print("  raw TLS loopback socket         %8.1f MB/s" % base_tls)
        print("  agent -> gateway -> deckhand    %8.1f MB/s  (stdout a pipe; target >= 65; %.0f%% of the raw pty)"
              % (SIZE / dt / 1e6, 100 * SIZE / dt / 1e6 / base_pty))
        rest = cpu["machine"] - sum(cpu[k] for k in ("worker", "gateway", "deckhand", "agent"))
        print("  CPU seconds per 100 MiB: worker %.2f, gateway %.2f (relay), deckhand %.2f,"
              " agent %.2f (control channel, transcript shipper; the bench document streams no logs), rest %.2f (shell's cat, harness,"
              " kernel threads); machine %.2f of %.2f available"
              % tuple(v * 100 * 1048576 / SIZE for v in (cpu["worker"], cpu["gateway"], cpu["deckhand"],
                                                          cpu["agent"], rest, cpu["machine"],
                                                          dt * os.cpu_count())))
        print("  worker system calls per MiB: %.0f read-type (pty reads, polls are not counted), %.0f write-type"
              % (cpu["syscr"] * 1048576 / SIZE, cpu["syscw"] * 1048576 / SIZE))
        print("keystroke echo through the gateway, %d samples: p50 %.2f ms, p99 %.2f ms (target p99 <= 2)"
              % (len(lat), p50, p99))
        print("session worker memory (kB): idle VmRSS %d (anon %d, PSS %d, private %d); during the transfer"
              " VmRSS %d (anon %d, PSS %d, private %d)  (target <= 1024)" % (idle_mem + busy_mem))
        print("with %d sessions open, per worker (kB, mean): VmRSS %d, PSS %d, private %d"
              % (MULTI, statistics.mean(m[0] for m in multi), statistics.mean(m[2] for m in multi),
                 statistics.mean(m[3] for m in multi)))
        print("load average: %s" % open("/proc/loadavg").read().strip())
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(10)
        gw.stop()


main()
PY
