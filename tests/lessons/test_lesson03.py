"""lenet's variants, batchnorm_layers, and the training loop notebook = package."""

import re

import pytest
from mxnet import autograd, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson import data, lesson02, lesson03
from bnlesson.core.config import set_seed
from bnlesson.lesson03 import NORMS, batchnorm_layers, lenet
from bnlesson.lesson08 import FastBatchNorm

from nbutil import shown

BN_TYPE = {"scratch": lesson02.BatchNorm, "gluon": nn.BatchNorm}


def images(n=2):
    return np.random.uniform(size=(n, 1, 28, 28))


def layer_names(net):
    return [type(block).__name__ for block in net]


@pytest.mark.parametrize(
    "norm, kind",
    [("none", None), ("scratch", lesson02.BatchNorm), (FastBatchNorm, FastBatchNorm),
     ("gluon", nn.BatchNorm)],
)  # fmt: skip
def test_each_norm_puts_its_layer_before_each_of_the_four_sigmoids(norm, kind):
    net = lenet(norm)
    found = [type(bn) for bn in batchnorm_layers(net)]
    assert found == ([] if kind is None else [kind] * 4)
    names = layer_names(net)
    sigmoids = [i for i, name in enumerate(names) if name == "Activation"]
    assert len(sigmoids) == 4
    if kind is not None:
        assert all(type(net[i - 1]) is kind for i in sigmoids)


@pytest.mark.parametrize("norm", NORMS)
def test_output_is_one_score_per_class(norm):
    net = lenet(norm)
    net.initialize()
    assert net(images()).shape == (2, 10)  # prediction mode
    with autograd.record():
        assert net(images()).shape == (2, 10)  # training mode


@pytest.mark.parametrize("norm", NORMS)
def test_fresh_net_is_not_initialized(norm):
    with pytest.raises(RuntimeError, match="not been initialized"):
        lenet(norm)(images())


def test_plain_lenet_is_the_lecture_stack():
    assert layer_names(lenet("none")) == [
        "Conv2D", "Activation", "MaxPool2D",
        "Conv2D", "Activation", "MaxPool2D",
        "Dense", "Activation", "Dense", "Activation", "Dense",
    ]  # fmt: skip


@pytest.mark.parametrize("norm", ["scratch", "gluon"])
def test_batch_norm_sits_between_each_layer_and_its_sigmoid(norm):
    net = lenet(norm)
    names = layer_names(net)
    assert len(net) == 15
    bn = [i for i, block in enumerate(net) if isinstance(block, BN_TYPE[norm])]
    assert bn == [1, 5, 9, 12]
    for i in bn:
        assert names[i - 1] in ("Conv2D", "Dense") and names[i + 1] == "Activation"
    plain = [n for i, n in enumerate(names) if i not in bn]
    assert plain == layer_names(lenet("none"))


@pytest.mark.parametrize(
    "norm, container, hybrid",
    [("none", nn.HybridSequential, True), ("gluon", nn.HybridSequential, True),
     ("scratch", nn.Sequential, False)],
)  # fmt: skip
def test_container_matches_hybridizability(norm, container, hybrid):
    net = lenet(norm)
    assert isinstance(net, container)  # a subclass that checks its input
    assert isinstance(net, nn.HybridBlock) is hybrid


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_hybridized_net_computes_the_same(norm):
    net = lenet(norm)
    net.initialize()
    X = images(4)
    expected = net(X).asnumpy()
    net.hybridize()
    assert_allclose(net(X).asnumpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("norm", ["none", "scratch", "gluon"])
@pytest.mark.parametrize(
    "shape, hint",
    [
        ((2, 1, 14, 14),
         "its images are 14x14, but the two 5x5 convolutions, the two 2x2 "
         "poolings and the Dense layers are sized for 28x28 (Fashion-MNIST's "
         "images): resize them to 28x28."),
        ((2, 28, 28, 1),
         "it looks channels-last (NHWC), but MXNet puts the channels on axis 1: "
         "transpose it with X.transpose(0, 3, 1, 2)."),
        ((2, 28, 28),
         "it has no channel axis: add it with X.reshape(-1, 1, 28, 28) (MXNet "
         "puts the channels on axis 1)."),
        ((2, 3, 28, 28),
         "give one-channel 28x28 images, channels first (NCHW), as "
         "bnlesson.data.load_data_fashion_mnist serves them."),
    ],
    ids=["14x14", "channels-last", "3-D", "RGB"],
)  # fmt: skip
def test_lenet_explains_images_it_cannot_take(norm, shape, hint):
    # MXNet's own error comes from inside the first convolution or pooling
    # ("kernel size exceed input"), before a batch-norm layer could explain.
    net = lenet(norm)
    net.initialize()
    message = (
        f"LeNet takes images of shape (batch, 1, 28, 28), but got an input of "
        f"shape {shape}: {hint}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        net(np.zeros(shape))


def test_a_slice_of_lenet_takes_what_the_layer_before_gives():
    net = lenet("none")
    net.initialize()
    X = images(2)
    features = net[:4](X)  # (2, 6, 12, 12), not an image LeNet takes
    assert_allclose(net[4:](features).asnumpy(), net(X).asnumpy(), rtol=1e-6)


def test_batchnorm_layers_of_each_variant():
    assert batchnorm_layers(lenet("none")) == []
    for norm, kind in BN_TYPE.items():
        net = lenet(norm)
        found = batchnorm_layers(net)
        assert len(found) == 4 and all(type(bn) is kind for bn in found)
        assert found == [block for block in net if isinstance(block, kind)], "in order"


def test_scratch_layers_are_sized_explicitly():
    net = lenet("scratch")
    net.initialize()
    shapes = [bn.gamma.data().shape for bn in batchnorm_layers(net)]
    assert shapes == [(1, 6, 1, 1), (1, 16, 1, 1), (1, 120), (1, 84)]


def test_gluon_layers_infer_their_size():
    net = lenet("gluon")
    net.initialize()
    net(images())
    shapes = [bn.gamma.data().shape for bn in batchnorm_layers(net)]
    assert shapes == [(6,), (16,), (120,), (84,)]


def test_batchnorm_layers_looks_inside_nested_blocks():
    outer = nn.Sequential()
    outer.add(lenet("scratch"), nn.BatchNorm())
    found = batchnorm_layers(outer)
    assert len(found) == 5 and type(found[-1]) is nn.BatchNorm


@pytest.mark.parametrize("norm", ["batchnorm", "Gluon", "fast", None, 3])
def test_unknown_norm_lists_the_choices(norm):
    with pytest.raises(ValueError, match="'none', 'scratch', 'gluon' or a layer class"):
        lenet(norm)


def test_a_layer_class_is_built_with_each_layers_size():
    calls = []

    def make(num_features, num_dims):
        calls.append((num_features, num_dims))
        return lesson02.BatchNorm(num_features, num_dims)

    net = lenet(make)
    assert calls == [(6, 4), (16, 4), (120, 2), (84, 2)]
    net.initialize()
    shapes = [bn.gamma.data().shape for bn in batchnorm_layers(net)]
    assert shapes == [(1, 6, 1, 1), (1, 16, 1, 1), (1, 120), (1, 84)]


# --- the notebook's training loop and the package's ---------------------------


@pytest.mark.parametrize("norm", ["none", "scratch"])
def test_the_notebooks_train_gives_the_packages_history(norm, capsys):
    X, y = data.load_arrays("test")
    runs = []
    for fn in (shown("03")["train"], lesson03.train):
        set_seed(0)
        train_iter = data.Batches(X[:384], y[:384], 64, shuffle=True)
        test_iter = data.Batches(X[384:512], y[384:512], 64)
        h = fn(lenet(norm), train_iter, test_iter, 2, 1.0, name=norm, plot=False)
        lines = [
            line.rsplit(", time", 1)[0] for line in capsys.readouterr().out.split("\n")
        ]
        runs.append((h.loss, h.train_acc, h.test_acc, h.name, h.lr, h.device, lines))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) == 2 and runs[0][-1][0].startswith("epoch 1, loss ")


# --- first_steps: gradient norms and saturated sigmoids -----------------------


def test_first_steps_measures_what_a_plain_sgd_step_computes():
    import mxnet as mx
    import numpy as onp

    from bnlesson.training.sgd import sgd_setup

    X, y = data.load_arrays("test")
    batch = (np.array(X[:64]), np.array(y[:64], dtype="int32"))
    set_seed(0)
    probed = lenet("scratch")
    steps = lesson03.first_steps(probed, [batch], 1.0, 5, mx.cpu())
    grads, saturated = steps.grad_norms, steps.saturated
    assert list(grads.index) == [1] and grads.index.name == "step", "one batch"
    assert list(grads.columns) == ["conv 1", "conv 2", "dense 1", "dense 2", "dense 3"]
    # The reference: the same weights, one SGD step as train takes it.
    set_seed(0)
    net = lenet("scratch")
    trainer, loss = sgd_setup(net, 1.0, mx.cpu())
    with autograd.record():
        l = loss(net(batch[0]), batch[1])
    l.backward()
    weights = [b.weight for b in net if isinstance(b, (nn.Conv2D, nn.Dense))]
    norms = [onp.linalg.norm(w.grad().asnumpy()) / 64 for w in weights]
    assert_allclose(grads.iloc[0].to_numpy(), norms, rtol=1e-5)
    # The weights' norms before the update, and the gradient's relative size.
    sizes = [onp.linalg.norm(w.data().asnumpy()) for w in weights]
    assert_allclose(steps.weight_norms.iloc[0].to_numpy(), sizes, rtol=1e-5)
    relative = onp.array(norms) / onp.array(sizes)
    assert_allclose(steps.relative.iloc[0].to_numpy(), relative, rtol=1e-5)
    assert list(steps.relative.columns) == list(grads.columns)
    # Saturated share of the first sigmoid (after conv, batch norm), by hand.
    with autograd.record():  # training mode: batch statistics
        s = net[2](net[1](net[0](batch[0]))).asnumpy()
    by_hand = ((s < 0.05) | (s > 0.95)).mean()
    assert by_hand > 0 and saturated.iloc[0, 0] == pytest.approx(by_hand)
    assert list(saturated.columns) == [f"sigmoid {i}" for i in range(1, 5)]
    trainer.step(64)
    for p, q in zip(net.collect_params().values(), probed.collect_params().values()):
        assert_allclose(q.data().asnumpy(), p.data().asnumpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["live", "fast"])
def test_the_first_steps_fit_in_one_pass_over_the_runs_data(monkeypatch, mode):
    """first_steps stops at the end of the data: at every size, lesson 03's
    training set has the num_steps batches its "median over" line counts."""
    from runmode import clear_run_env, set_mode

    from bnlesson.core.sizes import sizes

    clear_run_env(monkeypatch)
    set_mode(monkeypatch, mode)
    *_, num_steps, _, per_class = sizes(
        "03", num_epochs=5, num_steps=50, num_repeats=21, per_class=None
    )
    train_iter, _ = data.load_data_fashion_mnist(256, per_class=per_class)
    assert len(train_iter) >= num_steps, (mode, len(train_iter), num_steps)
