"""`python serve.py` (or `python -m jaxaccomp.server.cli`): the jit-warmed real-time OSC server for
the multi_track Max external, our Max and Pure Data externals and `python -m jaxaccomp.client`, and
with --web for the browser page (docs/web.md), one client at a time.

Loads the model, compiles the sampler for 1 to --max-stems stems (so `/predict_instruments` never
triggers a compilation while serving) and runs one silent step (compiling the codec), then sends
`/ready` to the client and serves until Ctrl-C or SIGTERM, when it prints a timing summary. The
settings given here are the starting point; the client's `/update_r`, `/w`, `/update_fade`,
`/update_package_size` and `/predict_instruments` change them while serving.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from jaxaccomp.cli import interruptible, run

# The codec's numpy work runs beside XLA's own thread pool, and a multi-threaded BLAS then fights it
# for the cores: on a busy 2-core machine a 35 ms embedded decode took 870 ms. Set before numpy loads
# (the imports below are lazy); an OPENBLAS_NUM_THREADS in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


WEB_PORT = 8080  # the page's port when --web names none
MAX_REPLY_GAP_MS = 20.0  # beyond this a step's reply (tens of datagrams) would take most of a short step

# Above this share of the step budget a cycle leaves too little room for the network and for jitter.
CYCLE_SHARE = 0.8


def port_number(text: str) -> int:
    """argparse type: a UDP port, 0 to 65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def build_parser() -> argparse.ArgumentParser:
    from jaxaccomp.constants import STEMS
    from jaxaccomp.runtime import Runtime
    from jaxaccomp.stream_settings import StreamSettings
    from jaxaccomp.streaming.models import DEFAULT_MODE, MODELS_DIR, MODES, add_sampling_arguments

    parser = argparse.ArgumentParser(prog="serve.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help=f"model directory (default: the demo model of --mode in "
                                                        f"{MODELS_DIR})")
    parser.add_argument("--codec", choices=("auto", "embedded", "music2latent"),
                        help="codec (default: the one the checkpoint was trained with)")
    parser.add_argument("--mode", choices=MODES,
                        help=f"diffusion or consistency (default: the checkpoint's; {DEFAULT_MODE} for the demo model)")
    parser.add_argument("--steps", type=int,
                        help="sampling steps (default: what the checkpoint recommends, else the reference server's)")
    add_sampling_arguments(parser)
    Runtime.add_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=port_number, default=7000, help="port to listen on (default: 7000; 0: any free one)")
    parser.add_argument("--web", type=port_number, nargs="?", const=WEB_PORT, metavar="PORT",
                        help=f"also serve the browser page on --host:PORT (default port {WEB_PORT}) and bridge its "
                             "WebSocket to the same session")
    parser.add_argument("--client-host", default="127.0.0.1", help="where replies go (default: 127.0.0.1)")
    parser.add_argument("--client-port", type=port_number, default=8000, help="the client's port (default: 8000)")
    StreamSettings.add_arguments(parser)
    parser.add_argument("--reply-gap", type=float, default=0.0, metavar="MS",
                        help="milliseconds between two reply datagrams, for UDP clients that cannot raise their receive "
                             "buffer above a step's reply (default: 0, back to back)")
    parser.add_argument("--package-size", type=int, default=5120,
                        help="floats per reply chunk until the client sends /update_package_size (default: 5120)")
    parser.add_argument("--stems", default="bass", help="comma-separated stems to generate (default: bass)")
    parser.add_argument("--max-stems", type=int, default=len(STEMS), choices=range(1, len(STEMS) + 1),
                        help=f"most stems a client may ask for at once, all compiled at start-up (default: {len(STEMS)})")
    parser.add_argument("--record", type=Path, metavar="DIR",
                        help="write session recordings and /print dumps into this existing folder (default: none)")
    parser.add_argument("--no-ramp", action="store_true",
                        help="send the lead-in unramped (the reference server ramps it and Max ramps again; "
                             "our clients learn which from /hello_reply)")
    parser.add_argument("--verbose", action="store_true", help="log every cycle's timings")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from jaxaccomp.compile_cache import enable_compile_cache
    from jaxaccomp.constants import STEMS
    from jaxaccomp.server.session import SERVER_NAME, Session, Settings, cycle_ms, engine_factory, warm_up
    from jaxaccomp.server.udp import UdpServer, check_address, listen
    from jaxaccomp.protocol import UpdatePackageSize
    from jaxaccomp.provenance import checkpoint_hash
    from jaxaccomp.runtime import Runtime
    from jaxaccomp.stream_settings import StreamSettings
    from jaxaccomp.streaming.models import default_checkpoint, load_model
    from jaxaccomp.streaming.generator import TUNING_NAMES

    args = build_parser().parse_args(argv)
    stems = tuple(args.stems.split(","))
    if not set(stems) <= set(STEMS) or len(set(stems)) != len(stems):
        raise ValueError(f"--stems must be distinct names from {','.join(STEMS)}, got {args.stems}")
    if len(stems) > args.max_stems:
        raise ValueError(f"--stems names {len(stems)} stems but --max-stems is {args.max_stems}")
    if args.record is not None and not args.record.is_dir():
        raise FileNotFoundError(f"--record folder {args.record} does not exist")
    UpdatePackageSize(args.package_size)  # its range, as a one-line error
    if not 0.0 <= args.reply_gap <= MAX_REPLY_GAP_MS:
        raise ValueError(f"--reply-gap is 0 to {MAX_REPLY_GAP_MS:g} ms, got {args.reply_gap:g}")
    settings = Settings(StreamSettings.from_args(args), args.package_size, stems, args.verbose,  # before the slow part
                        ramp_lead_in=not args.no_ramp, max_stems=args.max_stems)
    check_address(args.client_host, args.client_port, "--client-host/--client-port")
    sock = listen(args.host, args.port)  # a busy port or a wrong address is said now, not after the warm-up
    web_sock = None
    if args.web is not None:
        from jaxaccomp.server.web import listen_tcp
        try:
            web_sock = listen_tcp(args.host, args.web)
        except ValueError:
            sock.close()
            raise
    runtime = Runtime.from_args(args)
    runtime.apply()
    enable_compile_cache()
    with interruptible("starting up"):
        codec, generator = load_model(args.checkpoint, args.mode, args.codec, args.steps, runtime, args.guidance,
                                      args.continuation, args.tuning)
        make_engine = engine_factory(codec, generator)
        print(f"running on {generator.describe()}", file=sys.stderr)
        print(f"compiling the {generator.sampler_name()} for 1-{args.max_stems} stems...",
              file=sys.stderr)
        seconds = warm_up(generator, make_engine, settings, range(1, args.max_stems + 1))
        cycle = cycle_ms(make_engine, settings, len(stems))
    compiled = generator.compilations
    print(f"warm-up took {seconds:.1f} s ({generator.compilations} compilations)", file=sys.stderr)
    budget = settings.stream.step_budget_ms
    print(f"one cycle of {len(stems)} stem(s) takes {cycle:.0f} ms of the {budget:.0f} ms a step allows", file=sys.stderr)
    if cycle > CYCLE_SHARE * budget:
        remedies = ["a larger --r", "fewer --stems", "fewer --steps"]
        remedies += [] if generator.mode == "consistency" else ["--mode consistency"]
        print(f"warning: at r = {settings.stream.r:g} this machine may not keep up and batches will be dropped; "
              f"{', '.join(remedies[:-1])} or {remedies[-1]} needs less", file=sys.stderr)
    model = (args.checkpoint or default_checkpoint(args.mode)).resolve()
    guided = f"guidance {generator.guidance:g}, " if generator.guidance else ""
    guided += "periodic continuation, " if generator.continues_context else ""
    guided += f"{TUNING_NAMES[generator.tuning]}, " if generator.tuning in TUNING_NAMES else ""
    name = (f"{SERVER_NAME} ({generator.mode}, {generator.steps} steps, {guided}{runtime.dtype}, "
            f"model {model.name} {checkpoint_hash(model)})")
    session = Session(make_engine, settings, log=lambda line: print(line, file=sys.stderr), record=args.record,
                      name=name)
    server = UdpServer(session, sock, (args.client_host, args.client_port),
                       log=lambda line: print(line, file=sys.stderr), reply_gap=args.reply_gap / 1e3)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: server.stop())
    host, port = server.address
    print(f"serving on {host}:{port}, replying to {args.client_host}:{args.client_port}", file=sys.stderr)
    bridge = None
    if web_sock is not None:
        from jaxaccomp.server.web import WebBridge
        bridge = WebBridge(server.hub, web_sock, log=lambda line: print(line, file=sys.stderr))
        bridge.start()
        print(f"play in the browser: open {bridge.url}", file=sys.stderr)
    try:
        server.serve_forever()
    finally:
        if bridge is not None:
            bridge.stop()
    if session.recorder is not None:
        session.recorder.close()
    print(session.telemetry.summary(session.settings.stream.step_budget_ms), file=sys.stderr)
    print(f"served {session.batches} batches ({session.dropped} dropped), "
          f"{generator.compilations - compiled} compilations while serving", file=sys.stderr)
    return 0


if __name__ == "__main__":
    run(main)
