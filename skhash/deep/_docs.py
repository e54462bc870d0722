"""Docstring parts shared by every deep hasher, filled in where a docstring says
``{deep_parameters}`` and ``{deep_attributes}`` (written once, read in every class's help);
each parameter's ``default=`` is taken from the class's own signature."""

from ..utils.docstrings import fill_doc

__all__ = ["fill_deep_doc"]

DEEP_PARAMETERS = """\
backbone : str, torch.nn.Module or callable
        The network whose pooled features feed the hash layer: a built-in name
        (``"small_cnn"``, ``"alexnet_bn"``, ``"alexnet"``, ``"resnet18"``, ``"resnet34"``,
        ``"resnet50"``, ``"mlp"`` for feature vectors such as precomputed embeddings), any
        ``torch.nn.Module`` (deep-copied at fit, never re-initialised: bring your own
        pretrained network; its output is flattened, a 4-D output average-pooled first), or
        a callable ``f(image_shape) -> Module``. The default is the method's own network.
    pretrained : str, path-like or None
        A local file of weights for the backbone, in torchvision's key layout for
        ``"alexnet"`` and the ResNets (``torch.save(model.state_dict(), path)``), in the
        module's own layout otherwise. Keys and shapes are checked (an error names the file
        and the first differing keys); the first convolution is adapted to grey input and to
        a small-input stem. Nothing is ever downloaded.
    backbone_lr_scale : float or "auto"
        Learning rate of the backbone relative to the hash layers; "auto" is 0.1 when
        ``pretrained`` is given (the usual fine-tuning recipe), else 1.
    freeze_backbone : bool
        Train the hash layers only: the backbone's weights and batch-norm statistics stay
        as loaded.
    levels : tuple of int or None
        Multi-level codes: the backbone stages (1-based; e.g. ``(3, 4)``, the last two of a
        ResNet) whose pooled output maps each feed a hash layer of their own, trained with
        the method's loss; each gives a block of ``n_bits / len(levels)`` bits (in
        ``code_blocks_``). With labels and no ``bit_weights``, searches rank by the block
        weights learnt at fit (``level_weights_``: each block alone, all equal, or a mixture,
        whichever ranks the training items best), so that levels never rank worse than the
        best level alone; ``bit_weights={level: weight}`` with ``rerank="weighted"`` ranks by
        weights of your own. None hashes the backbone's final features.
    nested : tuple of int or None
        Nested code lengths, e.g. ``(16, 32, 64)`` (the longest is ``n_bits``): the method's
        loss is applied to each prefix of the code and the whole code teaches the shorter
        prefixes (Nested Hash Layer, arXiv 2412.08922), so one fit gives a code of each
        length: ``transform(X, n_bits=16)``, ``prefix_index(16)``,
        :meth:`CoarseToFine.from_nested <skhash.CoarseToFine.from_nested>`. Not with
        ``levels``.
    augmentation : "auto", dict, Augmentation or None
        Training augmentation on pixel values (before standardisation); "auto" is off below
        16 pixels a side and a mild random crop and rotation above (see
        :class:`~skhash.deep.Augmentation`).
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device
        Where to train and encode; "auto" picks CUDA, else MPS, else the CPU.
    precision : {"auto", "float32", "bfloat16", "float16"}
        Float format of training: "auto" is mixed precision on CUDA (bfloat16 where the GPU
        supports it, else float16 with gradient scaling) and float32 elsewhere. Encoding is
        always float32.
    num_workers : int
        Processes decoding the input (image files, datasets) while the network trains; 0
        reads in the main process.
    max_epochs : int
        Epochs of training.
    batch_size : int
        Images per training step (at least 2 with batch-norm).
    lr : float
        Learning rate of the hash layers (and of the backbone, times ``backbone_lr_scale``).
    weight_decay : float
    optimizer : {"adam", "adamw", "sgd"}
        The update rule, as ``torch.optim``'s Adam, AdamW and SGD (momentum 0.9) with their
        defaults; skhash's own implementations, as building a ``torch.optim`` optimizer
        imports ``torch._dynamo`` (66 MB of memory).
    lr_schedule : {"cosine", "step"}, callable or None
        Per-epoch schedule (see :class:`~skhash.deep.LRScheduler`); a callable maps the
        number of epochs done to a factor of ``lr``.
    validation_fraction : float or None
        Held-out fraction of the training data for early stopping on ``valid_loss`` (the
        weights of the best epoch are kept: ``best_epoch_``); None trains for all epochs.
    patience : int
        Early-stopping patience, in epochs.
    callbacks : list or None
        Extra callbacks (:class:`~skhash.deep.EarlyStopping`, ``Checkpoint``, ...), cloned at
        every fit into ``callbacks_``: the objects given are never changed.
    warm_start : bool
        Continue training the fitted network (same image shape and classes) instead of
        starting afresh; ``history_`` continues too.
    verbose : int
        1 shows a progress bar over the training batches; 2 also prints one line per epoch
        and early-stopping messages.
    random_state : int, RandomState instance or None
        Seeds the initialisation, shuffling, augmentation and dropout (per-fit torch
        generators; torch's global state is never touched). With an int, the same data,
        device, torch version and number of torch threads give identical codes: set
        ``n_jobs`` too for codes that do not depend on the process (CPU convolutions sum in
        an order that depends on the thread count; ``GridSearchCV(n_jobs=2)`` gives its
        workers fewer threads than the main process).
    n_jobs : int or None
        Threads of the Hamming search and of torch on the CPU while fitting and encoding
        (-1: every core); None searches on every core and leaves torch's own thread
        setting.
    {search_parameters}"""

DEEP_ATTRIBUTES = """\
module_ : torch.nn.Module
        The trained network, on ``device_``.
    device_ : str
        The device used.
    history_ : list of dict
        One record per epoch (``epoch``, ``train_loss``, each loss term, ``valid_loss``,
        ``lr``, ``dur``); ``pandas.DataFrame(history_)`` tabulates it.
    best_epoch_ : int
        The epoch whose weights the network has (the last one unless early stopping
        restored a better one).
    callbacks_ : list
        The callbacks of the last training run (fitted clones).
    image_shape_ : tuple
        ``(C, H, W)`` of the training images.
    channel_mean_, channel_std_ : ndarray of shape (C,) or (C, H, W)
        Standardisation learnt at fit (per feature for vector backbones).
    pixel_range_ : tuple of float
        Smallest and largest pixel value seen at fit (augmentation stays inside it).
    classes_ : ndarray
        Class labels (1-D ``y`` only).
    n_features_in_ : int
        ``C * H * W``.
    index_ : HammingIndex
        The database of codes.
    database_labels_ : ndarray or None
        Labels of the database items.
    database_embedding_ : ndarray of shape (n_indexed, n_bits) or None
        The database's embeddings, kept for ``rerank="embedding"``.
    bit_weights_ : ndarray of shape (n_bits,) or None
        The per-bit weights of re-ranking (given, or learnt at fit).
    code_blocks_ : dict or None
        With ``levels``: ``{level: slice of the code's bits}``.
    level_weights_ : dict or None
        With ``levels`` and labels: ``{level: weight}`` of the default ranking, learnt at
        fit (all equal: plain Hamming distance).
    nested_ : tuple of int or None
        The nested code lengths the model was trained for."""


def fill_deep_doc(cls):
    """Class decorator: put the shared parameter and attribute descriptions in the docstring,
    with the class's own defaults."""
    return fill_doc(cls, deep_parameters=DEEP_PARAMETERS, deep_attributes=DEEP_ATTRIBUTES)
