"""Data-parallel runs on each framework's own engine (DDP via torchrun, multi-controller
jax.distributed, tf.distribute's MultiWorkerMirroredStrategy), framework-free here:

    launch.py   start N ranks by the engine's conventions, supervise, kill all on a failure
    rank.py     one rank: pin its cores, join the process group, run its task, write results

What a framework's engine needs lives in harness.backends (launching, joining) and in its
impls file (AlexNet.distribute); parity's data-parallel tier is harness.parity.distributed,
the measurement `alexbench scale` (harness.measure.scaling).
"""
