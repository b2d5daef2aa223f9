"""Lesson 06's LeNet variants and the lecture's ReLU CNN: layers, order, biases."""

import numpy as onp
import pytest
from mxnet import autograd
from mxnet import np as mx_np
from mxnet.gluon import nn
from numpy.testing import assert_allclose
from test_lesson03 import images, layer_names

from bnlesson.lesson03 import batchnorm_layers, lenet


def test_lenet_variant_defaults_are_lenet_gluon():
    from bnlesson.core.config import set_seed
    from bnlesson.lesson06 import lenet_variant

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
    from bnlesson.lesson06 import lenet_variant

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
    from bnlesson.lesson06 import lenet_variant

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

    from bnlesson.lesson06 import lenet_variant

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
    from bnlesson.lesson06 import lenet_variant

    with pytest.raises(ValueError, match=match):
        lenet_variant(**kwargs)


def test_relu_cnn_is_the_pytorch_lecture_network():
    from bnlesson.lesson06 import relu_cnn

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


# --- the measurements the notebook's grids take: notebook and package twins --


@pytest.fixture(scope="module")
def lesson():
    from nbutil import shown

    return shown("06")


def sigmoid_net():
    net = nn.HybridSequential()
    net.add(nn.Dense(2, in_units=1), nn.Activation("sigmoid"), nn.Dense(3, in_units=2))
    net.initialize()
    net[0].weight.set_data(mx_np.array([[1.0], [100.0]], dtype="float32"))
    return net


@pytest.mark.parametrize("where", ["notebook", "package"])
def test_sigmoid_saturation_counts_outputs_near_0_or_1(lesson, where):
    from bnlesson import lesson06

    saturation = (lesson["sigmoid_saturation"] if where == "notebook"
                  else lesson06.sigmoid_saturation)  # fmt: skip
    x = onp.array([[-3.0], [0.0], [0.5], [6.0]])
    # by hand: sigmoid(x) and sigmoid(100 x), saturated when within 0.01 of 0/1
    z = 1 / (1 + onp.exp(-onp.concatenate([x, 100 * x], axis=1)))
    expected = float((onp.abs(z - 0.5) > 0.49).mean())
    assert expected == 4 / 8  # sigmoid(6), and sigmoid(100 x) but at x = 0
    X = mx_np.array(x, dtype="float32")
    assert saturation(sigmoid_net(), X) == pytest.approx(expected)


def grid_data():
    from bnlesson.data import Batches

    rng = onp.random.default_rng(0)
    X = rng.normal(size=(64, 1, 28, 28)).astype(onp.float32)
    y = rng.integers(0, 10, 64)
    return Batches(X, y, 16, shuffle=False), Batches(X, y, 32, shuffle=False)


def trained_lenet():
    from bnlesson.core.config import set_seed

    set_seed(0)
    net = lenet("gluon")
    net.initialize()
    net(mx_np.zeros((1, 1, 28, 28)))  # Gluon infers the shapes
    return net


def test_refreshed_and_diagnosed_agree_with_the_notebook_and_by_hand(lesson):
    from bnlesson import lesson06
    from bnlesson.lesson05 import refresh_running_stats
    from bnlesson.training.metrics import evaluate_accuracy

    train_iter, test_iter = grid_data()
    by_hand = trained_lenet()
    refresh_running_stats(by_hand, train_iter, num_batches=50)
    acc = evaluate_accuracy(by_hand, test_iter)
    W = by_hand[-1].weight.data().asnumpy()
    X = next(iter(test_iter))[0]
    results = []
    for diagnosed in (lesson["diagnosed"], lesson06.diagnosed):
        results.append(diagnosed(trained_lenet(), train_iter, test_iter))
    assert results[0] == results[1]
    assert results[1]["refreshed_acc"] == acc
    assert results[1]["output_weight_rms"] == pytest.approx(
        float(onp.sqrt((W * W).mean())), rel=1e-6
    )
    assert results[1]["saturated"] == lesson06.sigmoid_saturation(by_hand, X)
    assert lesson06.refreshed(trained_lenet(), train_iter, test_iter) == {
        "refreshed_acc": acc
    }


def test_diagnosed_measures_a_network_on_another_device(lesson):
    """cpu(1) is a device of its own to MXNet, as a GPU is: the test batch follows."""
    import mxnet as mx

    from bnlesson import lesson06

    train_iter, test_iter = grid_data()  # batches on the default device, cpu(0)
    expected = lesson06.diagnosed(trained_lenet(), train_iter, test_iter)
    for diagnosed in (lesson["diagnosed"], lesson06.diagnosed):
        net = trained_lenet()
        net.collect_params().reset_ctx(mx.cpu(1))
        assert diagnosed(net, train_iter, test_iter) == pytest.approx(expected)


def test_diagnosed_reports_logits_and_the_batch_norm_parameters():
    from bnlesson import lesson06

    train_iter, test_iter = grid_data()
    fresh = lesson06.diagnosed(trained_lenet(), train_iter, test_iter)
    # Gluon starts gamma at 1 and beta at 0; refreshing the statistics keeps them
    assert fresh["gamma_rms"] == 1 and fresh["beta_rms"] == 0
    scaled = trained_lenet()
    for p in (scaled[-1].weight, scaled[-1].bias):
        p.set_data(10 * p.data())
    # the logits are linear in the output layer's parameters
    result = lesson06.diagnosed(scaled, train_iter, test_iter)
    assert result["logit_rms"] == pytest.approx(10 * fresh["logit_rms"], rel=1e-5)
    assert result["output_weight_rms"] == pytest.approx(10 * fresh["output_weight_rms"])
    plain = lenet("none")
    plain.initialize()
    plain(mx_np.zeros((1, 1, 28, 28)))  # Gluon infers the shapes
    without = lesson06.diagnosed(plain, train_iter, test_iter)
    assert onp.isnan(without["gamma_rms"]) and onp.isnan(without["beta_rms"])


@pytest.mark.parametrize(
    "layer, shape, axes",
    [(lambda: nn.Dense(3), (2, 4), (0,)),  # m = b = 2: the variance doubles
     (lambda: nn.Dense(3), (8, 4), (0,)),
     (lambda: nn.Conv2D(3, kernel_size=3), (2, 1, 6, 6), (0, 2, 3))],  # m = 2 * 4 * 4
)  # fmt: skip
def test_unbiased_running_var_turns_the_cpu_average_into_the_unbiased_variance(
    layer, shape, axes
):
    from bnlesson.lesson06 import unbiased_running_var

    net = nn.HybridSequential()
    net.add(layer(), nn.BatchNorm())
    net.initialize()
    X = mx_np.array(onp.random.default_rng(1).normal(size=shape), dtype="float32")
    for _ in range(250):  # momentum 0.9: the initial 1 decays to 0.9^250
        with autograd.record():
            loss = net(X).sum()
        loss.backward()  # on the CPU the running statistics move in backward
    bn = net[1]
    stored = bn.running_var.data().asnumpy()
    values = net[0](X).asnumpy()
    assert_allclose(stored, values.var(axis=axes), rtol=1e-3)  # biased, as stored
    with unbiased_running_var(net, X):
        assert_allclose(bn.running_var.data().asnumpy(),
                        values.var(axis=axes, ddof=1), rtol=1e-3)  # fmt: skip
    assert (bn.running_var.data().asnumpy() == stored).all()  # restored


def test_unbiased_running_var_restores_after_an_error_and_skips_other_layers():
    from bnlesson import lesson06
    from bnlesson.training.metrics import evaluate_accuracy

    train_iter, test_iter = grid_data()
    net = trained_lenet()
    before = [bn.running_var.data().copy() for bn in batchnorm_layers(net)]
    with pytest.raises(RuntimeError), lesson06.unbiased_running_var(net, images(2)):
        raise RuntimeError("while evaluating")
    for bn, var in zip(batchnorm_layers(net), before):
        assert (bn.running_var.data() == var).all()
    plain = lenet("none")
    plain.initialize()
    plain(mx_np.zeros((1, 1, 28, 28)))  # Gluon infers the shapes
    assert lesson06.unbiased_variance_accuracy(plain, train_iter, test_iter) == {
        "unbiased_var_acc": evaluate_accuracy(plain, test_iter)
    }
