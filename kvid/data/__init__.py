"""kvid.data: from video files and annotations to clips (docs/INTERFACES.md, "Clip and label").

Modules (only ``pipeline`` imports TensorFlow):

- ``video``: OpenCV decoding of video files and frame folders to RGB uint8 frames;
- ``sampling``: temporal samplers (TSN ``segments``, ``dense`` clips, ``consecutive``);
- ``transforms``: spatial views (exact integer test views, random training crops);
- ``layouts``: dataset layouts (class folders, list files, UCF101, HMDB51, Kinetics, SSv2);
- ``clips``: one video -> clips / test views, and the log of bad inputs;
- ``pipeline``: ``make_dataset`` / ``make_eval_views``, tf.data for Keras ``fit``/``evaluate``;
- ``synth``: the synthetic dataset (``kvid synth``);
- ``check``: every problem of a dataset (``kvid data check``);
- ``cli``: the ``synth`` and ``data`` subcommands.
"""
