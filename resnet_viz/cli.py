"""Subcommands of the command line; each `add_*` registers one on the argparse subparsers."""

from __future__ import annotations

import argparse
import sys

__all__ = ["COMMANDS", "command"]

# Each entry takes the subparsers object and adds one command whose `func(args)` returns an exit code.
COMMANDS: list = []


def command(register):
    """Decorator: list a subcommand registrar in COMMANDS."""
    COMMANDS.append(register)
    return register


@command
def add_info(sub) -> None:
    p = sub.add_parser("info", help="device, versions, and which weights are available (and why not)")
    p.set_defaults(func=_run_info)


def _run_info(args: argparse.Namespace) -> int:
    import platform

    import torch
    import torchvision

    from resnet_viz.model import hub, weights
    from resnet_viz.model.device import available_devices, pick_device

    print(f"python       {platform.python_version()}")
    print(f"torch        {torch.__version__} (CUDA build: {torch.version.cuda or 'no'})")
    print(f"torchvision  {torchvision.__version__}")
    print(f"devices      {', '.join(available_devices())}; chosen: {pick_device()}")
    print(f"imagenet     cache file {hub.imagenet_cache_path()}")
    for name, why in weights.availability().items():
        print(f"weights      {name:<9} {'available' if why is None else why}")
    return 0


@command
def add_shapes(sub) -> None:
    p = sub.add_parser("shapes", help="a ResNet's layer table, Table 1 stages and totals for an input size")
    p.add_argument("--arch", default="resnet18", help="resnet18, resnet34, resnet50, resnet101 or resnet152")
    p.add_argument("--size", default="224", help="224 (square) or WIDTHxHEIGHT such as 320x240")
    p.add_argument("--classes", type=int, default=1000, help="outputs of the fc layer")
    p.add_argument("--all", action="store_true", help="also list the layers inside each block")
    p.set_defaults(func=_run_shapes)


def _run_shapes(args: argparse.Namespace) -> int:
    from resnet_viz.model.architecture import parse_size
    from resnet_viz.model.family import family

    try:
        h, w = parse_size(args.size)
        if args.classes < 1:
            raise ValueError(f"--classes must be at least 1, got {args.classes}.")
        fam = family(args.arch, h, w, args.classes)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = fam.table
    print(f"{'layer':<22}{'type':<31}{'k/s/p':>8}{'output':>14}{'params':>12}{'mult-adds':>15}{'RF':>6}{'jump':>6}")
    for r in table.rows if args.all else table.compact():
        ksp = f"{r.kernel}/{r.stride}/{r.padding}" if r.kernel else ""
        print(f"{r.name:<22}{r.kind:<31}{ksp:>8}{r.shape:>14}{r.params:>12,}{r.macs:>15,}{r.rf:>6}{r.jump:>6}")
    print(f"\n{'paper (Table 1)':<16}{'torchvision':<28}{'output':>14}{'blocks':>8}  {'block convs (k, C)':<30}"
          f"{'params':>12}{'mult-adds':>15}")
    for s in fam.stages:
        convs = ", ".join(f"{k}x{k} {c}" for k, c in s.convs)
        print(f"{s.paper:<16}{s.torchvision:<28}{f'{s.out_c}x{s.out_h}x{s.out_w}':>14}{s.blocks or '':>8}  "
              f"{convs:<30}{s.params:>12,}{s.macs:>15,}")
    d = fam.depth
    print(f"\ndepth {d.depth} = {d.stem_convs} stem conv + {d.blocks} blocks x {d.convs_per_block} convs "
          f"+ {d.fc} fc; not counted: {d.projections} projection convs ({d.projection_params:,} params with their BN), "
          f"{d.batchnorms} BatchNorm, {d.pools} pooling, {d.relus} ReLU")
    print(f"{args.arch}, input 3x{h}x{w}: {fam.params:,} parameters, {fam.macs / 1e9:.2f} G multiply-adds")
    return 0


@command
def add_train_shapes(sub):
    p = sub.add_parser("train-shapes", help="Train ResNet-18 on the synthetic shapes data (offline checkpoint).")
    p.add_argument("--size", type=int, default=128, help="canvas size (px) the checkpoint is evaluated and shown at")
    p.add_argument("--minutes", type=float, default=50.0, help="wall-clock training budget")
    p.add_argument("--out", default="assets/shapes/resnet18_shapes.pth", help="checkpoint path (.json beside it)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--init", default=None, help="continue training from this checkpoint")
    p.set_defaults(func=_run_train_shapes)


def _run_train_shapes(args: argparse.Namespace) -> int:
    import shlex
    import sys

    import torch

    from resnet_viz.experiments import train

    torch.set_num_threads(args.threads)
    command = "python -m resnet_viz " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    train.train(args.out, args.minutes, seed=args.seed, batch_size=args.batch_size, lr=args.lr,
                eval_size=args.size, command=command, log=lambda m: print(m, flush=True), init=args.init)
    return 0


@command
def add_evaluate_shapes(sub):
    p = sub.add_parser("evaluate-shapes", help="Held-out accuracy, pointing game and shortcut removal on shapes.")
    p.add_argument("--weights", choices=("shapes", "random"), default="shapes")
    p.add_argument("--checkpoint", default="assets/shapes/resnet18_shapes.pth", help="used with --weights shapes")
    p.add_argument("--n", type=int, default=500, help="held-out images (the set's first n)")
    p.add_argument("--size", type=int, default=128, help="canvas size in pixels")
    p.add_argument("--per-block", action="store_true", help="also remove each block's shortcut alone")
    p.add_argument("--write-meta", action="store_true", help="store the results in the checkpoint's JSON")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.set_defaults(func=_run_evaluate_shapes)


def _run_evaluate_shapes(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import torch

    from resnet_viz import disk_cache
    from resnet_viz.experiments import train

    torch.set_num_threads(args.threads)
    if args.weights == "shapes":
        path = Path(args.checkpoint)
        if not path.exists() or not path.with_suffix(".json").exists():
            raise SystemExit(f"No shapes checkpoint at {path} (train one with `python -m resnet_viz train-shapes`).")
        model, meta = train.load_checkpoint(path)
    else:
        model, meta = train.build_model().eval(), None
    res = train.evaluate(model, n=args.n, size=args.size, per_block=args.per_block)
    for key, value in res.items():
        print(f"{key:32s} {value:.3f}" if isinstance(value, float) else f"{key:32s} {value}")
    if args.write_meta and meta is not None:
        meta["heldout_accuracy"] = res["accuracy"]
        meta["heldout_n"] = res["n"]
        meta["evaluation"] = res
        disk_cache.write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
        print(f"wrote {path.with_suffix('.json')}")
    return 0


@command
def add_gradflow(sub) -> None:
    p = sub.add_parser("gradflow", help="per-layer gradient norms at init, plain vs residual CIFAR-style stacks; "
                                        "--degradation trains the four-net degradation experiment")
    p.add_argument("--depth", type=int, default=56, help="6n+2: 8, 14, 20, 32, 44, 56, 110 ...")
    p.add_argument("--no-bn", action="store_true", help="leave BatchNorm out")
    p.add_argument("--shortcut", choices=("A", "B"), default="A", help="A: zero-padding, B: 1x1 projection")
    p.add_argument("--zero-init-residual", action="store_true", help="start every residual block as identity")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--widths", default="16,32,64", help="channels of the three stages, e.g. 8,16,32")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    p.add_argument("--degradation", action="store_true",
                   help="train plain/residual x shallow/deep with the page's defaults instead")
    p.add_argument("--out", default="", help="with --degradation: also write the curves into this folder "
                                            "(assets/gradflow ships them with the app)")
    p.set_defaults(func=_run_gradflow)


def _run_gradflow(args: argparse.Namespace) -> int:
    import torch

    from resnet_viz.experiments import gradnorms

    if args.threads:  # this command is a process of its own, so it may set the process's threads
        torch.set_num_threads(args.threads)
    try:
        widths = tuple(int(w) for w in args.widths.split(","))
        if args.degradation:
            return _gradflow_degradation(args)
        results = gradnorms.compare_init(args.depth, batchnorm=not args.no_bn, shortcut=args.shortcut,
                                         zero_init_residual=args.zero_init_residual, batch_size=args.batch_size,
                                         seed=args.seed, widths=widths)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for variant, r in results.items():
        print(f"\n{variant}-{args.depth}  ({'BN' if not args.no_bn else 'no BN'}, loss {r.loss:.3f})")
        print(f"  {'layer':<18}{'|dL/dW|':>12}{'|dL/dout|':>12}{'act std':>12}")
        for name, w, o, a in zip(r.layers, r.weight_grad, r.output_grad, r.activation_std, strict=True):
            print(f"  {name:<18}{w:>12.4g}{o:>12.4g}{a:>12.4g}")
    print("\nfirst/last ratios (>1: larger toward the input)")
    for variant, r in results.items():
        print(f"  {variant:<9} weight-grad {r.weight_ratio:.4g}   output-grad {r.output_ratio:.4g}   "
              f"activation std first {r.activation_std[0]:.3g} last {r.activation_std[-1]:.3g}")
    return 0


def _gradflow_degradation(args: argparse.Namespace) -> int:
    from pathlib import Path

    from resnet_viz import disk_cache
    from resnet_viz.experiments import degradation

    configs, settings = degradation.default_degradation(seed=args.seed)

    def report(curves, done, total):
        print(f"step {done}/{total}: " + "  ".join(f"{k} {c.loss[-1]:.3f}" for k, c in curves.items()), flush=True)

    # Always train (never replay), so the printed time is a real measurement.
    result = degradation.train_stacks(configs, settings, progress=report, replay=False)
    print(f"trained in {result.seconds:.1f} s; final losses: "
          + ", ".join(f"{k} {c.final_loss:.3f}" for k, c in result.curves.items()))
    if args.out:
        # Named by the settings' cache key: the page finds shipped curves the way it finds cached ones.
        path = Path(args.out) / f"{degradation.cache_key(_result_configs(result), settings)}.json"
        disk_cache.write_json(path, degradation.result_to_json(result))
        print(f"wrote {path}")
    return 0


def _result_configs(result) -> dict:
    return {k: c.config for k, c in result.curves.items()}


@command
def add_gradcam(sub) -> None:
    p = sub.add_parser("gradcam", help="Grad-CAM overlays (PNG) for images, and each image's predicted class")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, WebP, ...)")
    p.add_argument("--layer", default="layer4", help="conv1, layer1..layer4, a block (layer3.1) or a block part")
    p.add_argument("--target", default="auto", help="'auto' (top-1), a class index, or a class name")
    p.add_argument("--out", default="gradcam_out", help="folder for the overlays (created if missing)")
    p.add_argument("--no-shortcuts", action="store_true", help="switch every shortcut off")
    p.add_argument("--weights", default="auto", help="auto, imagenet, shapes, random, or a path to a .pth file")
    p.add_argument("--opacity", type=float, default=0.5, help="heat-map opacity, 0..1")
    p.add_argument("--colormap", default="Jet", help="a plotly colour scale name (Jet, Viridis, Inferno, ...)")
    p.set_defaults(func=_run_gradcam)


def _run_gradcam(args: argparse.Namespace) -> int:
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from resnet_viz.explain import gradcam
    from resnet_viz.figures import cam as figures_cam
    from resnet_viz.inputs import images
    from resnet_viz.model import layers, weights
    from resnet_viz.model.forward import ALL_OFF
    from resnet_viz.text import errors

    try:
        path = Path(args.weights)
        handle = (weights.handle_for("file", file=path) if args.weights.endswith(".pth") or path.is_file()
                  else weights.handle_for(args.weights))
    except errors.WeightsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.layer not in layers.cam_layers():
        print(f"error: unknown layer {args.layer!r}; try conv1, layer1..layer4 or a block such as layer3.1",
              file=sys.stderr)
        return 2
    mask = ALL_OFF if args.no_shortcuts else None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"weights: {handle.description} ({handle.why_live}); {'all shortcuts off' if mask else 'all shortcuts on'}")
    failed = 0
    for name in args.images:
        try:
            image = images.load_image(Path(name).read_bytes())
            x = handle.preprocess(image).unsqueeze(0)  # (1, 3, H, W)
            cam = gradcam.grad_cam(handle, x, [args.layer], args.target, mask)
            picture = images.denormalise(x, handle.mean, handle.std)
            heat = gradcam.for_display(cam.maps[args.layer])
            rgb = figures_cam.cam_overlay_rgb(picture, heat, args.opacity, args.colormap)
        except (OSError, ValueError) as exc:  # ImageError and AttributionError are ValueErrors
            print(f"{name}: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        safe = "".join(c if c.isalnum() else "_" for c in cam.label)
        dst = out / f"{Path(name).stem}_{args.layer}_{safe}.png"
        Image.fromarray(np.ascontiguousarray(rgb)).save(dst)
        _, top_label, top_p = cam.top[0]
        print(f"{name}: predicted {top_label} ({100 * top_p:.1f}%); Grad-CAM of {cam.label} "
              f"({100 * cam.prob:.1f}%) at {args.layer} -> {dst}")
    return 1 if failed else 0


@command
def add_channel(sub) -> None:
    from resnet_viz.model.config import DEFAULTS

    p = sub.add_parser("channel", help="what one channel looks for: an optimised image, its top held-out shapes and "
                                       "its concept label (Network Dissection)")
    p.add_argument("--layer", default="layer3.1", help="a block: layer1.0 ... layer4.1")
    p.add_argument("--channel", type=int, required=True, help="channel index in the block's output")
    p.add_argument("--target", default="out", choices=("x", "F", "out"),
                   help="the block's input x, its branch F(x) or its output F(x)+x")
    p.add_argument("--steps", type=int, default=DEFAULTS.channel_steps, help="optimisation steps (Adam, lr 0.05)")
    p.add_argument("--size", type=int, default=DEFAULTS.channel_size, help="side of the optimised image in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=DEFAULTS.dissect_n, help="held-out shapes for the examples and the labels")
    p.add_argument("--mask", default="11111111", help="one 0/1 per block, layer1.0 first: 0 drops its shortcut")
    p.add_argument("--weights", default="auto", help="auto, imagenet, shapes, random, or a path to a .pth file")
    p.add_argument("--out", default="channel_out", help="folder for the PNGs (created if missing)")
    p.add_argument("--json", default="", help="also write the numbers to this JSON file")
    p.set_defaults(func=_run_channel)


def _run_channel(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from resnet_viz.data import shapes
    from resnet_viz.explain import channels, dissection
    from resnet_viz.model import weights
    from resnet_viz.model.config import DEFAULTS
    from resnet_viz.text import errors

    try:
        if len(args.mask) != 8 or set(args.mask) - {"0", "1"}:
            raise ValueError(f"--mask needs eight 0/1 digits, got {args.mask!r}")
        if not 1 <= args.steps <= 4096 or not 32 <= args.size <= 512 or not 10 <= args.n <= 5000:
            raise ValueError("--steps must be 1..4096, --size 32..512 and --n 10..5000")
        path = Path(args.weights)
        handle = (weights.handle_for("file", file=path) if args.weights.endswith(".pth") or path.is_file()
                  else weights.handle_for(args.weights))
        mask = tuple(c == "1" for c in args.mask)
        snaps = sorted({s for s in (*DEFAULTS.channel_snapshots[:-1], args.steps) if s <= args.steps})
        vis = channels.cached_visualise(handle, args.layer, args.channel, args.target, mask, size=args.size,
                                        steps=args.steps, seed=args.seed, snapshots=snaps)
        d = dissection.cached_dissect(handle, args.layer, args.target, mask, n=args.n, size=DEFAULTS.dissect_size)
        ex = dissection.dataset_examples(handle, d, args.channel)
    except (errors.WeightsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.layer}_{args.target}_c{args.channel}"
    Image.fromarray(np.concatenate([vis.snapshots[s] for s in snaps], axis=1)).save(out / f"{stem}_steps.png")
    Image.fromarray(vis.image).save(out / f"{stem}.png")
    dim = [np.where(m[..., None], im, im // 3) for im, m in zip(ex.images, ex.masks, strict=True)]
    Image.fromarray(np.concatenate(dim, axis=1)).save(out / f"{stem}_examples.png")
    concept, iou = d.best(args.channel)
    numbers = {"layer": args.layer, "channel": args.channel, "target": args.target, "mask": args.mask,
               "weights": handle.source, "size": args.size, "steps": args.steps, "start": vis.start,
               "final": vis.final, "best_heldout": d.best_mean[args.channel], "active": d.active[args.channel],
               "concept": shapes.CLASSES[concept], "iou": iou, "labelled": d.labelled(), "channels": len(d.iou),
               "examples": ex.names, "seconds_visualise": vis.seconds, "seconds_dissect": d.seconds}
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=1))
    print(f"{args.layer} {args.target} channel {args.channel} ({handle.source} weights, mask {args.mask}): "
          f"mean {vis.start:.3g} at the random start -> {vis.final:.3g} after {args.steps} steps "
          f"(best of {args.n} held-out shapes: {numbers['best_heldout']:.3g}); best concept {numbers['concept']} "
          f"IoU {iou:.3f}; {numbers['labelled']}/{numbers['channels']} channels labelled -> {out}")
    return 0
