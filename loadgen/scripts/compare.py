#!/usr/bin/env python3
"""Side-by-side load runs of parleyd, ngircd and InspIRCd (each if installed)
on this machine, one server at a time, same loadgen scenarios.

Run from the repository root after `cargo build --release -p parley -p loadgen`:

    python3 loadgen/scripts/compare.py [--quick]

Prints one table per scenario with each server's figures and parley's ratio.
Only 127.0.0.1 is used. Servers are started on spare ports and stopped after.
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOADGEN = os.path.join(ROOT, "target/release/loadgen")
PARLEYD = os.path.join(ROOT, "target/release/parleyd")
QUICK = "--quick" in sys.argv
IDLE_CLIENTS = 2000 if QUICK else 10000
CONNECT_CLIENTS = 1000 if QUICK else 5000
CONNECT_RAMP = 250
TMP = tempfile.mkdtemp(prefix="parley-compare-")


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])  # utime + stime, in clock ticks


def loadgen(port, *args):
    out = os.path.join(TMP, "run.json")
    cmd = [LOADGEN, *args, "--target", f"127.0.0.1:{port}", "--json", out]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    return json.load(open(out))


def wait_port(port):
    import socket
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} never came up")


def start_parley(port):
    conf = os.path.join(TMP, "parley.toml")
    open(conf, "w").write(
        f'listen = ["127.0.0.1:{port}"]\ndb = "{TMP}/parley.db"\nmax_per_ip = 0\n'
        "flood_rate = 0\nmax_unregistered = 100000\n")
    return subprocess.Popen([PARLEYD, "--config", conf, "--log", "warn"], stderr=subprocess.DEVNULL)


def start_ngircd(port):
    src = open(os.path.join(ROOT, "loadgen/configs/ngircd-load.conf")).read()
    conf = os.path.join(TMP, "ngircd.conf")
    open(conf, "w").write(src.replace("Ports = 16667", f"Ports = {port}")
                          .replace("/tmp/ngircd-load.pid", f"{TMP}/ngircd.pid"))
    return subprocess.Popen(["ngircd", "-n", "-f", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_inspircd(port):
    src = open(os.path.join(ROOT, "loadgen/configs/inspircd-load.conf")).read()
    conf = os.path.join(TMP, "inspircd.conf")
    open(conf, "w").write(src.replace('port="26667"', f'port="{port}"')
                          .replace("/tmp/inspircd-load.pid", f"{TMP}/inspircd.pid")
                          .replace("/tmp/inspircd-load.log", f"{TMP}/inspircd.log"))
    # --runasroot: these throwaway runs may be made as root.
    return subprocess.Popen(["inspircd", "--nofork", "--runasroot", f"--config={conf}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


SERVERS = [("parley", start_parley, 2000)]
if shutil.which("ngircd"):
    # ngircd listens with a backlog of 10: connect slowly.
    SERVERS.append(("ngircd", start_ngircd, 250))
if shutil.which("inspircd"):
    SERVERS.append(("inspircd", start_inspircd, 1000))


def measure(name, start, ramp, port):
    res = {}
    # Registrations per server CPU-second.
    p = start(port); wait_port(port); time.sleep(0.5)
    t0 = cpu_ticks(p.pid)
    # Same connection rate for every server (ngircd's backlog of 10 sets it).
    r = loadgen(port, "connect", "--clients", str(CONNECT_CLIENTS), "--ramp", str(CONNECT_RAMP))
    ticks = cpu_ticks(p.pid) - t0
    hz = os.sysconf("SC_CLK_TCK")
    res["registered"] = r["clients"]["ready"]
    res["reg_per_cpu_s"] = r["clients"]["ready"] / max(ticks / hz, 1e-9)
    res["connect_p99_ms"] = r["connect_latency"]["p99_us"] / 1000
    p.send_signal(signal.SIGTERM); p.wait(timeout=20)
    # Idle memory per registered client, on a fresh server.
    p = start(port + 1); wait_port(port + 1); time.sleep(0.5)
    r = loadgen(port + 1, "idle", "--clients", str(IDLE_CLIENTS), "--ramp", str(ramp),
                "--duration", "5", "--server-pid", str(p.pid))
    res["idle_bytes_per_client"] = r["memory"]["bytes_per_client"] if r.get("memory") else None
    res["idle_ready"] = r["clients"]["ready"]
    # Channel latency at a rate every server sustains: 20 channels x 100
    # members, one sender each at 2 msg/s (ngircd throttles ~3 lines/s).
    r = loadgen(port + 1, "channel", "--clients", "2000", "--channels", "20", "--senders", "1",
                "--rate", "40", "--warmup", "2", "--duration", "10", "--ramp", str(ramp))
    m = r["message_latency"]
    res["chan_delivered"] = r["messages"]["delivered"]
    res["chan_lost"] = r["messages"]["lost"]
    res["chan_p50_ms"] = m["p50_us"] / 1000
    res["chan_p99_ms"] = m["p99_us"] / 1000
    p.send_signal(signal.SIGTERM); p.wait(timeout=20)
    return res


def main():
    results = {}
    for i, (name, start, ramp) in enumerate(SERVERS):
        results[name] = measure(name, start, ramp, 17000 + 10 * i)
        print(f"{name}: {results[name]}", file=sys.stderr)
    keys = [("reg_per_cpu_s", "registrations per server CPU-second (250 connects/s)", "{:.0f}", True),
            ("connect_p99_ms", "connect+register p99 (ms)", "{:.2f}", False),
            ("idle_bytes_per_client", f"idle RSS growth per client ({IDLE_CLIENTS} clients), bytes", "{:.0f}", False),
            ("chan_p50_ms", "channel message p50 (ms), 3,960 deliveries/s", "{:.3f}", False),
            ("chan_p99_ms", "channel message p99 (ms), 3,960 deliveries/s", "{:.3f}", False),
            ("chan_lost", "channel messages lost", "{}", False)]
    names = list(results)
    others = names[1:]
    print("| figure | " + " | ".join(names) + "".join(f" | parley vs {o}" for o in others) + " |")
    print("|---" * (len(names) + len(others) + 1) + "|")
    for key, label, fmt, higher_better in keys:
        vals = [results[n].get(key) for n in names]
        cells = [fmt.format(v) if v is not None else "n/a" for v in vals]
        ratios = [f"{vals[0] / v:.2f}x" if vals[0] and v else "" for v in vals[1:]]
        print(f"| {label} | " + " | ".join(cells + ratios) + " |")
    shutil.rmtree(TMP, ignore_errors=True)


main()
