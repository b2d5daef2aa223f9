"""lenet's three variants: layers, containers, shapes, and batchnorm_layers."""

import pytest
from mxnet import autograd, np
from mxnet.gluon import nn
from numpy.testing import assert_allclose

from bnlesson import layers
from bnlesson.lesson08 import FastBatchNorm
from bnlesson.models import NORMS, batchnorm_layers, lenet

BN_TYPE = {"scratch": layers.BatchNorm, "gluon": nn.BatchNorm}


def images(n=2):
    return np.random.uniform(size=(n, 1, 28, 28))


def layer_names(net):
    return [type(block).__name__ for block in net]


@pytest.mark.parametrize(
    "norm, kind",
    [("none", None), ("scratch", layers.BatchNorm), ("fast", FastBatchNorm),
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
    assert type(net) is container
    assert isinstance(net, nn.HybridBlock) is hybrid


@pytest.mark.parametrize("norm", ["none", "gluon"])
def test_hybridized_net_computes_the_same(norm):
    net = lenet(norm)
    net.initialize()
    X = images(4)
    expected = net(X).asnumpy()
    net.hybridize()
    assert_allclose(net(X).asnumpy(), expected, rtol=1e-5, atol=1e-6)


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


@pytest.mark.parametrize("norm", ["batchnorm", "Gluon", None])
def test_unknown_norm_lists_the_choices(norm):
    with pytest.raises(ValueError, match="'none', 'scratch', 'gluon', 'fast'"):
        lenet(norm)


def test_fast_variant_uses_the_fast_layer_everywhere():
    from bnlesson.lesson08 import FastBatchNorm

    net = lenet("fast")
    assert [type(b) for b in batchnorm_layers(net)] == [FastBatchNorm] * 4


# --- lesson 05: lenet_variant and relu_cnn ----------------------------------


def test_lenet_variant_defaults_are_lenet_gluon():
    from bnlesson import set_seed
    from bnlesson.models import lenet_variant

    assert layer_names(lenet_variant()) == layer_names(lenet("gluon"))
    X = images(4)
    outputs = []
    for net in (lenet_variant(), lenet("gluon")):
        set_seed(0)
        net.initialize()
        with autograd.record():
            outputs.append(net(X).asnumpy())
    assert_allclose(outputs[0], outputs[1], rtol=1e-6)


@pytest.mark.parametrize(
    "order, conv_stage, dense_stage",
    [("act", ["Activation"], ["Activation"]),
     ("act-bn", ["Activation", "BatchNorm"], ["Activation", "BatchNorm"]),
     ("bn-act-drop", ["BatchNorm", "Activation"],
      ["BatchNorm", "Activation", "Dropout"]),
     ("act-drop-bn", ["Activation", "BatchNorm"],
      ["Activation", "Dropout", "BatchNorm"])],
)  # fmt: skip
def test_lenet_variant_follows_the_order_dropout_in_dense_stages_only(
    order, conv_stage, dense_stage
):
    from bnlesson.models import lenet_variant

    expected = [
        "Conv2D", *conv_stage, "MaxPool2D", "Conv2D", *conv_stage, "MaxPool2D",
        "Dense", *dense_stage, "Dense", *dense_stage, "Dense",
    ]  # fmt: skip
    net = lenet_variant(order, activation="relu", dropout=0.3)
    assert layer_names(net) == expected
    assert all(b._act_type == "relu" for b in net if isinstance(b, nn.Activation))
    assert all(b._rate == 0.3 for b in net if isinstance(b, nn.Dropout))
    net.initialize()
    with autograd.record():
        assert net(images()).shape == (2, 10)


def test_lenet_variant_without_bias_has_biases_only_in_the_output_layer():
    from bnlesson.models import lenet_variant

    net = lenet_variant(use_bias=False)
    net.initialize()
    net(images())
    weighted = [b for b in net if isinstance(b, (nn.Conv2D, nn.Dense))]
    assert [b.bias is None for b in weighted] == [True] * 4 + [False]
    with_bias = lenet_variant()
    with_bias.initialize()
    with_bias(images())
    count = lambda n: sum(p.data().size for p in n.collect_params().values())  # noqa: E731
    assert count(with_bias) - count(net) == 6 + 16 + 120 + 84


def test_bias_before_batch_norm_changes_nothing_in_training_mode():
    from mxnet import np as mnp

    from bnlesson.models import lenet_variant

    net = lenet_variant("bn-act")
    net.initialize()
    X = images(8)
    with autograd.record():
        before = net(X).asnumpy()
    hidden = [b for b in net if isinstance(b, (nn.Conv2D, nn.Dense))][:-1]
    for layer in hidden:
        layer.bias.set_data(mnp.random.normal(0, 3, layer.bias.shape))
    with autograd.record():
        after = net(X).asnumpy()
    assert_allclose(after, before, atol=1e-4)
    # after the activation the bias does matter
    net = lenet_variant("act-bn")
    net.initialize()
    with autograd.record():
        before = net(X).asnumpy()
    net[0].bias.set_data(mnp.full(6, 3.0))
    with autograd.record():
        assert abs(net(X).asnumpy() - before).max() > 1e-2


@pytest.mark.parametrize(
    "kwargs, match",
    [({"order": "bn"}, "'act' once"), ({"order": "act-act"}, "'act' once"),
     ({"order": "act-ln"}, "'act' once"), ({"order": "act-bn-bn"}, "'act' once"),
     ({"activation": "tanh"}, "activation must be"), ({"dropout": 1.0}, r"\[0, 1\)")],
)  # fmt: skip
def test_lenet_variant_bad_arguments(kwargs, match):
    from bnlesson.models import lenet_variant

    with pytest.raises(ValueError, match=match):
        lenet_variant(**kwargs)


def test_relu_cnn_is_the_pytorch_lecture_network():
    from bnlesson.models import relu_cnn

    plain = [
        "Conv2D", "Activation", "MaxPool2D", "Conv2D", "Activation", "MaxPool2D",
        "Dense", "Activation", "Dense", "Activation", "Dense",
    ]  # fmt: skip
    assert layer_names(relu_cnn(batch_norm=False)) == plain
    net = relu_cnn()
    names = layer_names(net)
    assert names == plain[:3] + ["BatchNorm"] + plain[3:8] + ["BatchNorm"] + plain[8:]
    net.initialize()
    with autograd.record():
        assert net(images()).shape == (2, 10)
    shapes = [bn.gamma.data().shape for bn in batchnorm_layers(net)]
    assert shapes == [(6,), (120,)]
    units = [b._units for b in net if isinstance(b, nn.Dense)]
    assert units == [120, 60, 10]
    assert net[4]._channels == 12
