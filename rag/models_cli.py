"""``python -m rag models [list|gallery|pull]``: the runnable models, the gallery, and
downloads (the only command that reaches the network)."""

from __future__ import annotations

import argparse
import sys


def cmd_models(args: argparse.Namespace) -> int:
    from rag.cli import service_for

    if args.action == "pull":
        return cmd_models_pull(args)
    if args.action == "gallery":
        return cmd_models_gallery(args)
    service = service_for(args)
    for m in service.available_models():
        mark = " (default)" if m.default else ""
        print(f"{m.name}{mark}\t{m.quantization}\t{m.size_bytes / 2**20:.0f} MB\t{m.path}")
    print(f"runs on: {service.hardware().describe()}")
    return 0


def _models_dir(args: argparse.Namespace) -> str:
    from rag.settings import load_settings

    return load_settings(args.data).models_dir


def cmd_models_gallery(args: argparse.Namespace) -> int:
    from rag import gallery

    models_dir = _models_dir(args)
    for m in gallery.load_gallery():
        fit = gallery.machine_fit(m, models_dir)
        state = "installed" if fit.installed else ("" if fit.fits_memory else "too big")
        print(f"{m.id}\t{m.name}\t{m.size_gb:.2f} GB\tRAM {m.ram_gb:.1f} GB\t"
              f"~{fit.tokens_per_s:g} tok/s\t{m.licence}\t{state}".rstrip())
        print(f"\t{m.source}")
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rag import downloads, gallery

    if not args.source:
        print("Give a SOURCE: a gallery id, a Hugging Face owner/repo/file.gguf or a URL.",
              file=sys.stderr)
        return 2
    entry = gallery.find(args.source)
    remote = downloads.resolve_source(entry.source if entry else args.source, args.sha256)
    with tqdm(total=remote.size or None, unit="B", unit_scale=True, unit_divisor=1024,
              desc=remote.file_name[:40], file=sys.stderr, disable=args.quiet) as bar:

        def progress(done: int, total: int) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        path = downloads.download(remote, _models_dir(args), progress=progress)
    print(f"{path}")
    return 0


def add_models_parser(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("models", parents=[common],
                       help="list runnable models, show the gallery, download one")
    p.add_argument("action", nargs="?", choices=["list", "gallery", "pull"], default="list")
    p.add_argument("source", nargs="?",
                   help="pull: a gallery id, a Hugging Face owner/repo/file.gguf ($HF_ENDPOINT) "
                        "or an http(s) URL")
    p.add_argument("--sha256", help="pull: the file's expected SHA-256 (hex)")
    p.set_defaults(run=cmd_models)
