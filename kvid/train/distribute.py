"""How kvid trains on several replicas (``kvid train --strategy mirrored|multiworker``).

One rule: a distributed run trains on exactly the global batches a single device would.
Every worker builds the whole training pipeline with the same seed (so the same shuffles and
augmentations), and :func:`replica_batches` gives replica ``r`` of ``R`` the ``r``-th
consecutive part of each global batch (part sizes differ by at most one; a last batch of a
pass smaller than ``R`` clips is left out, :func:`steps_per_pass` counts without it). Keras'
own input distribution is not used for training: it rebatches the repeated stream, so
batches run across epoch boundaries and a pass with a partial last batch no longer lines up
with the single-device run. Each worker thus decodes and augments every video and keeps its
part (tf.data's DATA sharding done by hand): with ``W`` workers its pipeline makes ``W`` times
the clips its replicas train on. The README measures kvid's pipeline at 48x (8x112) and 95x
(16x224) the training rate of ``sevnet_g8`` on the same CPU, so up to that many workers the
input does not hold training back. Validation data goes through Keras with
:data:`AutoShardPolicy.DATA` (each worker evaluates its share, metrics are summed).

BatchNormalization is synchronised (:func:`synchronize_batchnorm`: batch statistics over the
global batch, one all-reduce per layer), so the replicas compute what one device computes:
the losses of a multi-worker run and of a single-device run of the same global batch agree to
float32 rounding (tests/test_train_distributed.py). Per-replica statistics (what the papers'
multi-GPU runs had) would make the result depend on the number of workers: with 2 clips per
replica the tiny test model's second-epoch loss moved by 15%. What still differs: a global
batch that does not split evenly weights its parts' mean losses equally.

Multi-worker training (:func:`multiworker_strategy`): ``TF_CONFIG`` on every worker names the
cluster and the worker's task; collectives run over gRPC with the ring algorithm on CPU. The
run directory must be one folder all workers see (a shared filesystem, or localhost): the
chief (``chief``, or ``worker`` 0 without one) writes it, the other workers write their
copies of the same files to throw-away folders, as Keras requires (:mod:`kvid.train.callbacks`),
and on ``--resume`` every worker restores the chief's last checkpoint.
"""

from __future__ import annotations

import json
import os

from kvid import KvidError


def cluster_config(text: str | None = None) -> dict:
    """The ``TF_CONFIG`` JSON (``text``, default the environment's), checked: a ``cluster``
    with a ``worker`` (and optionally ``chief``) address list and this process's ``task``
    (``type`` and ``index``) in it. No TensorFlow."""
    text = os.environ.get("TF_CONFIG", "") if text is None else text
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:port", "host2:port"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    if not text.strip():
        raise KvidError(f"TF_CONFIG: not set; --strategy multiworker needs it on every worker, "
                        f"e.g. {example}")
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise KvidError(f"TF_CONFIG: not JSON ({exc})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not any(cluster.get(k) for k in ("worker", "chief")):
        raise KvidError(f"TF_CONFIG: no cluster with a worker address list, e.g. {example}")
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(isinstance(a, str) and ":" in a
                                                       for a in addresses):
            raise KvidError(f"TF_CONFIG: cluster.{job} must be a list of 'host:port' strings")
    task = config.get("task")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise KvidError(f"TF_CONFIG: task.type must name a job of the cluster "
                        f"({', '.join(sorted(cluster))}), got {task!r}")
    index = task.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise KvidError(f"TF_CONFIG: task.index={index!r} is not a position in "
                        f"cluster.{task['type']} ({len(cluster[task['type']])} addresses)")
    return config


def multiworker_strategy():
    """``MultiWorkerMirroredStrategy`` from ``TF_CONFIG`` (checked first): ring collectives over
    gRPC on CPU, TensorFlow's choice (NCCL) where GPUs are present. Create it before any
    other TensorFlow work in the process."""
    cluster_config()
    from kvid.keras import tf

    impl = tf.distribute.experimental.CommunicationImplementation
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=impl.AUTO if tf.config.list_physical_devices("GPU") else impl.RING)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def steps_per_pass(videos: int, batch: int, replicas: int = 1) -> int:
    """Global batches in one pass over ``videos`` training videos: ``ceil(videos / batch)``,
    less a last batch smaller than ``replicas`` clips (:func:`replica_batches` leaves it out)."""
    full, rest = divmod(int(videos), int(batch))
    return full + (1 if rest and rest >= int(replicas) else 0)


def replica_batches(ds, strategy):
    """``ds`` (batches of the global batch size, repeated for ``fit``) as ``strategy``'s
    replicas take it: ``ds`` itself on one replica, else a distributed dataset in which every
    worker feeds its replicas their parts of each global batch (:func:`replica_parts`)."""
    replicas = int(strategy.num_replicas_in_sync)
    if replicas == 1:
        return ds

    def per_worker(context):
        local = replicas // context.num_input_pipelines
        return replica_parts(ds, replicas, context.input_pipeline_id * local, local)

    return strategy.distribute_datasets_from_function(per_worker)


def replica_parts(ds, replicas: int, first: int = 0, local: int = 1):
    """For each global batch of ``ds`` (``n`` elements), the parts of replicas ``first`` ..
    ``first + local - 1`` of ``replicas``, one dataset element each: replica ``r`` gets
    elements ``[r * n // replicas, (r + 1) * n // replicas)``. A batch of fewer than
    ``replicas`` elements is left out (a replica would get an empty part)."""
    from kvid.keras import tf

    def size(element):
        return tf.shape(tf.nest.flatten(element)[0], out_type=tf.int64)[0]

    def part(element, r):
        n = size(element)
        lo, hi = r * n // replicas, (r + 1) * n // replicas
        return tf.nest.map_structure(lambda t: t[lo:hi], element)

    ranks = tf.data.Dataset.range(first, first + local)
    return (ds.filter(lambda *e: size(e) >= replicas)
            .flat_map(lambda *e: ranks.map(lambda r: part(e, r)))
            .prefetch(tf.data.AUTOTUNE))


def synchronize_batchnorm(model) -> int:
    """Make every BatchNormalization layer of ``model`` compute its training statistics over
    all replicas (tf_keras' ``synchronized=True``; its fused kernel has no such mode). Returns
    the number of layers changed. Under one replica it computes the same as before."""
    from kvid.keras import keras

    changed = 0
    for layer in model.submodules:
        if isinstance(layer, keras.layers.BatchNormalization) and not layer.synchronized:
            layer.synchronized, layer.fused = True, False
            changed += 1
    return changed


def validation_batches(ds, strategy):
    """``ds`` for ``fit``'s ``validation_data`` under ``strategy``: on several workers with
    DATA sharding (each worker evaluates its share of every batch; Keras sums the metrics)."""
    if ds is None or num_workers(strategy) == 1:
        return ds
    from kvid.keras import tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def num_workers(strategy) -> int:
    """Worker processes of ``strategy`` (1 unless it is multi-worker with a cluster)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    return max(1, len(spec.get("worker", [])) + len(spec.get("chief", [])))
