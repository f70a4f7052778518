"""``kvid models`` and ``kvid info``."""

from __future__ import annotations

import json


def add_parsers(sub):
    p = sub.add_parser("models", help="list the model presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_models, needs="train")

    p = sub.add_parser("info", help="parameters and multiply-adds of a preset, per block")
    p.add_argument("model")
    p.add_argument("--frames", type=int)
    p.add_argument("--size", type=int)
    p.add_argument("--classes", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="model option override (repeatable)")
    p.add_argument("--small", action="store_true",
                   help="the preset's small CPU configuration (what kvid demo and the tests train)")
    p.add_argument("--protocol", help="show this alternative data protocol (default: the preset's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_info, needs="train")


def run_models(args) -> int:
    from kvid.models import presets

    rows = [
        {"name": p.name, "family": p.family, "frames": p.defaults["frames"],
         "size": p.defaults["size"], "classes": p.defaults["num_classes"],
         "description": p.description}
        for p in presets().values()
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'preset':<16} {'family':<10} {'input':<12} {'classes':>7}  description")
    for r in rows:
        shape = f"{r['frames']}x{r['size']}x{r['size']}"
        print(f"{r['name']:<16} {r['family']:<10} {shape:<12} {r['classes']:>7}  {r['description']}")
    return 0


def run_info(args) -> int:
    from kvid.analysis.count import count
    from kvid.models import build, get, options, parse_overrides

    overrides = {**(get(args.model).small if args.small else {}), **parse_overrides(args.set)}
    kwargs = options(args.model, args.classes, args.frames, args.size, **overrides)
    result = count(build(args.model, args.classes, args.frames, args.size, **overrides))
    refs = [
        {"frames": r.frames, "size": r.size, "classes": r.num_classes, "params_m": r.params_m,
         "gmacs": r.gmacs, "source": r.source}
        for r in get(args.model).references
        if (r.frames, r.size, r.num_classes) == (kwargs["frames"], kwargs["size"], kwargs["num_classes"])
        and not overrides
    ]
    preset = get(args.model)
    protocol = preset.data_protocol(args.protocol, frames=kwargs["frames"], size=kwargs["size"])
    if args.json:
        print(json.dumps({"model": args.model, "frames": kwargs["frames"], "size": kwargs["size"],
                          "classes": kwargs["num_classes"], **result, "paper": refs,
                          "protocol": protocol.to_dict(),
                          "protocols": ["default", *sorted(preset.protocols)]}, indent=2))
        return 0
    print(f"{args.model}: {kwargs['frames']}x{kwargs['size']}x{kwargs['size']}, "
          f"{kwargs['num_classes']} classes")
    print(f"{'block':<28} {'params':>12} {'GMACs':>10}")
    for b in result["blocks"]:
        print(f"{b['name']:<28} {b['params']:>12,} {b['gmacs']:>10.4f}")
    print(f"{'total':<28} {result['params']:>12,} {result['gmacs']:>10.4f}")
    for r in refs:
        paper = []
        if r["params_m"] is not None:
            paper.append(f"{r['params_m']} M params ({result['params'] / 1e6 / r['params_m'] - 1:+.1%})")
        if r["gmacs"] is not None:
            paper.append(f"{r['gmacs']} GMACs ({result['gmacs'] / r['gmacs'] - 1:+.1%})")
        print(f"paper ({r['source']}): " + ", ".join(paper))
    print(protocol.describe())
    if preset.protocols:
        print(f"  other protocols (--protocol): {', '.join(sorted(preset.protocols))}")
    return 0
