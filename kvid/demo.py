"""``kvid demo``: the whole promise of kvid on a CPU, in one command.

synthetic videos -> train a small SEVNet with Keras ``fit`` -> QAT fine-tune -> fully int8
TFLite (audited) + a float32 TFLite -> evaluate float Keras, QAT Keras, int8 TFLite and float32
TFLite on the same held-out videos -> time float32 vs int8 TFLite -> a few quantization
variants side by side (``kvid quant sweep``: float32, PTQ int8, QAT int8, int16x8, per-tensor
PTQ) -> ``OUT/report.md``.

Every step writes its artefacts into ``OUT`` and records its result in ``OUT/demo.json``;
running the same command again skips the steps that are done and continues an interrupted
training from its last checkpoint, so a failed or interrupted demo is resumed by re-running it.
"""

from __future__ import annotations

import json
import os
import time

STEPS = ("data", "train", "qat", "export", "evaluate", "bench", "quant", "report")

# The demo's dataset and schedule; the model itself is built in its preset's small CPU
# configuration (``Preset.small``, shown by ``kvid info M --small``), whatever the family.
DEFAULTS = {
    "model": "sevnet_g8",
    "classes": 10,
    "videos_per_class": 100,
    "video_frames": 24,
    "video_size": 64,
    "frames": 8,
    "size": 64,
    "scheme": None,  # the preset's paper protocol (SEVNet: TSN segments)
    "batch": 16,
    "epochs": 20,
    "qat_epochs": 2,
    # the quantization section: recipes of `kvid quant recipes` (float32 and qat_int8 are the
    # export step's files; the others cost a conversion each)
    "quant": "float32,ptq_int8,qat_int8,int16x8,ptq_int8_per_tensor",
}


def add_parsers(sub):
    p = sub.add_parser("demo", help="the main job: synth -> train -> QAT -> int8 TFLite -> report")
    p.add_argument("--out", default="kvid_demo", help="output folder (re-run to resume)")
    p.add_argument("--model", default=DEFAULTS["model"],
                   help="any preset; trained with its small CPU configuration")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    p.add_argument("--qat-epochs", type=int, default=DEFAULTS["qat_epochs"])
    p.add_argument("--classes", type=int, default=DEFAULTS["classes"])
    p.add_argument("--videos-per-class", type=int, default=DEFAULTS["videos_per_class"])
    p.add_argument("--frames", type=int, default=DEFAULTS["frames"])
    p.add_argument("--size", type=int, default=DEFAULTS["size"])
    p.add_argument("--scheme", default=DEFAULTS["scheme"],
                   help="temporal sampling (default: the preset's paper protocol, kvid info M)")
    p.add_argument("--quant", default=DEFAULTS["quant"],
                   help="the variants of the quantization section: names of `kvid quant recipes`")
    p.add_argument("--redo", choices=STEPS[2:], metavar="STEP",
                   help="run STEP and every later step again, keeping the data and the trained "
                        "run (" + ", ".join(STEPS[2:]) + "); a fresh start is a new --out")
    p.set_defaults(func=run_demo, needs="train")


class Demo:
    def __init__(self, args):
        self.out = os.path.abspath(args.out)
        self.config = {
            "model": args.model, "seed": args.seed, "epochs": args.epochs,
            "qat_epochs": args.qat_epochs, "classes": args.classes,
            "videos_per_class": args.videos_per_class, "frames": args.frames, "size": args.size,
            "video_frames": DEFAULTS["video_frames"], "video_size": DEFAULTS["video_size"],
            "scheme": getattr(args, "scheme", DEFAULTS["scheme"]), "batch": DEFAULTS["batch"],
            "quant": getattr(args, "quant", DEFAULTS["quant"]),
        }
        self.state_path = os.path.join(self.out, "demo.json")
        self.state = {"config": self.config, "done": {}}
        if os.path.isfile(self.state_path):
            with open(self.state_path, encoding="utf-8") as fh:
                previous = json.load(fh)
            previous.get("config", {}).setdefault("quant", DEFAULTS["quant"])  # a demo from before the step
            if previous.get("config") != self.config:
                from kvid import KvidError

                raise KvidError(f"{self.out}: holds a demo with other settings; use another --out "
                                "or the same options to resume it")
            self.state = previous
        redo = getattr(args, "redo", None)
        if redo:
            for step in STEPS[STEPS.index(redo):]:
                self.state["done"].pop(step, None)

    # -- bookkeeping ---------------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.out, *parts)

    def save(self):
        tmp = self.state_path + ".partial"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.state, fh, indent=2)
        os.replace(tmp, self.state_path)

    def run(self) -> int:
        os.makedirs(self.out, exist_ok=True)
        for number, step in enumerate(STEPS, 1):
            if step in self.state["done"]:
                print(f"[{number}/{len(STEPS)}] {step}: done earlier, skipped")
                continue
            print(f"[{number}/{len(STEPS)}] {step} ...", flush=True)
            t0 = time.perf_counter()
            try:
                result = getattr(self, f"step_{step}")()
            except KeyboardInterrupt:
                print(f"\nkvid demo: interrupted in step '{step}'. Resume with: kvid demo --out {self.out}")
                raise
            except Exception as exc:
                print(f"\nkvid demo: step '{step}' failed: {type(exc).__name__}: {exc}")
                print(f"Fix the cause (disk space, memory, ...) and resume with: kvid demo --out {self.out}"
                      + ("  (same options)" if self.config != self._default_config() else ""))
                return 1
            result["seconds"] = round(time.perf_counter() - t0, 1)
            self.state["done"][step] = result
            self.save()
        self.print_summary()
        return 0

    def _default_config(self):
        return {**DEFAULTS, "seed": 0}

    # -- the steps ----------------------------------------------------------------------
    def step_data(self) -> dict:
        from kvid.data.synth import write_synthetic

        c = self.config
        root = write_synthetic(self.path("data"), classes=c["classes"],
                               videos_per_class=c["videos_per_class"], frames=c["video_frames"],
                               size=c["video_size"], seed=c["seed"])
        return {"root": os.fspath(root)}

    def _train_config(self):
        from kvid.train.run import TrainConfig

        c = self.config
        return TrainConfig(model=c["model"], data=self.state["done"]["data"]["root"],
                           out=self.path("run"), frames=c["frames"], size=c["size"],
                           batch=c["batch"], epochs=c["epochs"], small=True, seed=c["seed"],
                           scheme=c["scheme"], val_split="val")

    def _clip(self):
        from kvid.contract import rundir

        return rundir.clip_spec(rundir.read_config(self.path("run")))

    def step_train(self) -> dict:
        from kvid.contract import rundir
        from kvid.train.run import train_run

        cfg = self._train_config()
        resume = rundir.has_progress(cfg.out)
        if resume:
            print(f"  resuming the interrupted training in {cfg.out}")
        train_run(cfg, resume=resume, verbose=1)
        return {"run": cfg.out}

    def step_qat(self) -> dict:
        from kvid.export.run import qat_run

        path = qat_run(self.path("run"), epochs=self.config["qat_epochs"], verbose=1)
        return {"model": path}

    def step_export(self) -> dict:
        from kvid.export.run import export_run

        out = {}
        for mode in ("int8", "float32"):
            result = export_run(self.path("run"), self.path(f"model_{mode}.tflite"), mode=mode,
                                parity=False)
            out[mode] = {"path": result["path"], "bytes": result["bytes"],
                         "audit_ok": result["audit"]["ok"], "ops": result["audit"]["ops"]}
            print(f"  {mode}: {result['path']} ({result['bytes'] / 1024:.0f} KiB), audit "
                  f"{'ok' if result['audit']['ok'] else 'NOT ok'}")
        return out

    def step_evaluate(self) -> dict:
        import numpy as np

        from kvid.analysis import plots
        from kvid.data.pipeline import make_eval_views
        from kvid.export.model import logits_on_views
        from kvid.ops import load_model
        from kvid.runtime.agreement import compare_logits, top1
        from kvid.train.metrics import confusion
        from kvid.contract import rundir

        c = self.config
        ds = make_eval_views(self.state["done"]["data"]["root"], "test",
                             clip=rundir.clip_spec(rundir.read_config(self.path("run"))))
        views, labels = [], []
        for v, y, _ in ds.as_numpy_iterator():
            views.append(v)
            labels.extend([int(y)] * len(v))
        views, labels = np.concatenate(views), np.asarray(labels)
        names = ds.kvid_dataset.labels
        logits = logits_on_views({
            "float Keras": load_model(rundir.path(self.path("run"), rundir.BEST)),
            "QAT Keras": load_model(self.path("run", "qat.keras")),
            "int8 TFLite": self.path("model_int8.tflite"),
            "float32 TFLite": self.path("model_float32.tflite"),
        }, views)
        accuracy = {k: top1(v, labels) for k, v in logits.items()}
        compared = compare_logits(logits["QAT Keras"], logits["int8 TFLite"])
        agreement, sqnr = compared["agreement"], compared["sqnr_db"]
        matrix = confusion(logits["int8 TFLite"].argmax(1), labels, len(names))
        confusion_png = plots.confusion_matrix(matrix, names, self.path("confusion_int8.png"),
                                               title="int8 TFLite, test split")
        for name, value in accuracy.items():
            print(f"  {name:<14} top-1 {value:.1%}")
        print(f"  int8 TFLite vs QAT Keras: argmax agreement {agreement:.1%}, logits SQNR {sqnr:.1f} dB")
        return {"videos": int(len(labels)), "skipped": int(ds.kvid_problems.errors), "top1": accuracy,
                "agreement": agreement, "sqnr_db": sqnr, "confusion_png": confusion_png}

    def step_bench(self) -> dict:
        from kvid.runtime.bench import bench, format_table, plot

        rows = bench([self.path("model_float32.tflite"), self.path("model_int8.tflite")],
                     threads=(2,), xnnpack=(True,), warmup=3, repeats=20)
        print("\n".join("  " + line for line in format_table(rows).splitlines()))
        png = plot(rows, self.path("latency.png"))
        f32, i8 = rows
        return {"rows": rows, "speedup": f32["median_ms"] / i8["median_ms"],
                "size_ratio": i8["size_mb"] / f32["size_mb"], "png": png}

    def step_quant(self) -> dict:
        from kvid.quant.sweep import sweep
        from kvid.quant.variants import DEFAULT_RECIPES

        named = {r.name: r for r in DEFAULT_RECIPES}
        wanted = [n for n in self.config["quant"].split(",") if n]
        unknown = [n for n in wanted if n not in named]
        if unknown:
            from kvid import KvidError

            raise KvidError(f"--quant: unknown recipe(s) {', '.join(unknown)} (kvid quant recipes lists them)")
        exported = {"float32": self.path("model_float32.tflite"), "qat_int8": self.path("model_int8.tflite")}
        result = sweep(self.path("run"), self.path("quant"), [named[n] for n in wanted], bench_threads=(2,),
                       repeats=10, rounds=2, layer_views=2, split="test",
                       prebuilt={k: v for k, v in exported.items() if k in wanted}, verbose=False)
        keys = ("variant", "precision", "top1", "agreement", "sqnr_db", "size_kib", "ms_2t", "audit", "audit_ok",
                "worst_layer", "path")
        rows = [{k: r.get(k) for k in keys} for r in result["rows"]]
        for r in rows:
            if r["variant"] == "float Keras":
                continue
            scores = (f"top-1 {r['top1']:.1%}, SQNR {r['sqnr_db']:.1f} dB, " if r.get("top1") is not None else "")
            timing = f"{r['size_kib']:.0f} KiB, {r['ms_2t']:.2f} ms, " if r.get("ms_2t") else ""
            print(f"  {r['variant']:<20} {r.get('precision') or '-':<10} {scores}{timing}audit {r['audit']}")
        return {"rows": rows, "views": result["views"], "split": result["split"], "md": result["paths"]["md"],
                "png": result["paths"].get("pareto_latency.png"), "recipes": wanted}

    def step_report(self) -> dict:
        from kvid.analysis.count import count
        from kvid.models import build

        c, done = self.config, self.state["done"]
        model = build(c["model"], num_classes=c["classes"], frames=c["frames"], size=c["size"],
                      **_small(c["model"]))
        info = count(model)
        ev, bn = done["evaluate"], done["bench"]
        f32, i8 = bn["rows"]
        lines = [
            f"# kvid demo report ({c['model']})", "",
            "Produced by `kvid demo` (" + ", ".join(f"{k}={v}" for k, v in c.items()) + ").", "",
            "## Data", "",
            f"Synthetic videos (`kvid synth`): {c['classes']} classes whose label only temporal order "
            f"reveals, {c['videos_per_class']} videos per class ({c['video_frames']} frames, "
            f"{c['video_size']} px); clips: {self._clip().describe()}. Test split: {ev['videos']} views, {ev['skipped']} unreadable videos.", "",
            "## Model", "",
            f"`{c['model']}` small CPU configuration: {info['params']:,} parameters, "
            f"{info['gmacs']:.3f} GMACs per clip.", "",
            "## Accuracy on the test split (same views for every model)", "",
            "| model | top-1 |", "|---|---|",
            *[f"| {k} | {v:.1%} |" for k, v in ev["top1"].items()], "",
            f"int8 TFLite vs QAT Keras: argmax agreement {ev['agreement']:.1%}, logits SQNR "
            f"{ev['sqnr_db']:.1f} dB.", "",
            "## TFLite on this CPU (2 threads, XNNPACK)", "",
            "| file | size | median latency per clip | p10-p90 |", "|---|---|---|---|",
            *[f"| {os.path.basename(r['model'])} | {r['size_mb'] * 1024:.0f} KiB | {r['median_ms']:.2f} ms "
              f"| {r['p10_ms']:.2f}-{r['p90_ms']:.2f} ms |" for r in (f32, i8)], "",
            f"int8 is {bn['speedup']:.2f}x the speed of float32 at {bn['size_ratio']:.2f}x its size.", "",
            *self._quant_section(),
            "## Files", "",
            "- training run (config, checkpoints, log, TensorBoard): `run/`",
            "- training curves: ![curves](run/curves.png)",
            "- confusion matrix (int8 TFLite): ![confusion](confusion_int8.png)",
            "- latency: ![latency](latency.png)",
            "- models: `model_int8.tflite`, `model_float32.tflite` (+ `.json` sidecars), `run/qat.keras`",
            "- quantization variants (file, sidecar, recipe, per-layer table each): `quant/<variant>/`",
        ]
        path = self.path("report.md")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        return {"report": path, "params": info["params"], "gmacs": info["gmacs"]}

    def _quant_section(self) -> list[str]:
        q = self.state["done"]["quant"]
        rows = q["rows"]

        def cell(v, fmt):
            return "-" if v is None else format(v, fmt)

        return [
            "## Quantization variants (`kvid quant sweep`)", "",
            f"`kvid quant sweep {self.path('run')} --out {self.path('quant')} --only {','.join(q['recipes'])} "
            f"--threads 2 --rounds 2 --layer-views 2` (the demo hands it its own float32 and int8 exports "
            f"instead of converting them again): every file audited for its declared mode and run by the "
            f"TensorFlow-free runtime on one centre view of each of the {q['views']} videos of the "
            f"{q['split']} split; agreement and logits SQNR against the float Keras model; latency on this "
            "CPU, 2 threads, XNNPACK. `worst_layer`: the op adding the most error, in its output's own "
            "quantisation steps (`kvid quant layers`).", "",
            "| variant | precision | top-1 | agreement | SQNR dB | size KiB | ms | audit | worst layer |",
            "|---|---|---:|---:|---:|---:|---:|---|---|",
            *[f"| {r['variant']} | {r['precision']} | {cell(r['top1'], '.1%')} | {cell(r['agreement'], '.1%')} "
              f"| {cell(r['sqnr_db'], '.1f')} | {cell(r['size_kib'], '.0f')} | {cell(r['ms_2t'], '.2f')} "
              f"| {r['audit']} | {r.get('worst_layer') or '-'} |" for r in rows], "",
            f"The whole matrix: `quant/sweep.md`; top-1 vs latency: ![pareto](quant/pareto_latency.png)", "",
        ]

    def print_summary(self):
        c, done = self.config, self.state["done"]
        ev, bn, rep = done["evaluate"], done["bench"], done["report"]
        f32, i8 = bn["rows"]
        print()
        print(f"kvid demo summary ({self.out})")
        print(f"  data     : {c['classes']} synthetic classes x {c['videos_per_class']} videos "
              f"-> {done['data']['root']}")
        print(f"  model    : {c['model']} (small), {rep['params']:,} params, {rep['gmacs']:.3f} GMACs/clip")
        print("  top-1    : " + ", ".join(f"{k} {v:.1%}" for k, v in ev["top1"].items()))
        print(f"  agreement: int8 TFLite vs QAT Keras {ev['agreement']:.1%} (SQNR {ev['sqnr_db']:.1f} dB)")
        print(f"  size     : float32 {f32['size_mb'] * 1024:.0f} KiB, int8 {i8['size_mb'] * 1024:.0f} KiB")
        print(f"  latency  : float32 {f32['median_ms']:.2f} ms, int8 {i8['median_ms']:.2f} ms per clip "
              f"({bn['speedup']:.2f}x)")
        quant = {r["variant"]: r for r in done["quant"]["rows"]}
        print("  quant    : " + ", ".join(f"{k} {r['top1']:.1%}" for k, r in quant.items()
                                       if k != "float Keras" and r.get("top1") is not None)
              + " (top-1; quant/sweep.md)")
        print(f"  report   : {rep['report']}")


def _small(model_name) -> dict:
    from kvid.models import get

    return dict(get(model_name).small)


def run_demo(args) -> int:
    return Demo(args).run()
