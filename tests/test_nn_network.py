"""Networks of the tensor front end: structure, and bad input as errors that name the culprit.

Every error a user can cause is a :class:`symgrad.errors.SymgradError` whose message names the
layer or argument at fault; the checks below match substrings of those messages.
"""

import numpy as np
import pytest
import sympy

from symgrad.errors import NoDerivativeRuleError, ShapeError, SymgradError
from symgrad.nn import Dense, Network, derive, init_params, logistic_regression, mlp, reference


def softmax_net(k=3):
    return Network(mlp([4, 5, k], hidden="tanh", output="softmax"), loss="cross_entropy")


def bce_net():
    return Network(mlp([4, 5, 1], hidden="relu", output="sigmoid"), loss="bce")


def evaluate(net, X=None, y=None, params=None):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4)) if X is None else X
    y = np.array([0, 1, 0, 1, 1, 0]) if y is None else y
    return reference(derive(net), init_params(net) if params is None else params, X, y)


# Structure.


def test_params_and_shapes_follow_the_lecture_layout():
    net = Network(mlp([4, 3, 2], hidden="relu", output="identity"), loss="mse")
    assert [p.ident for p in net.params] == ["W1", "b1", "W2", "b2"]
    assert [p.text for p in net.params] == ["W[1]", "b[1]", "W[2]", "b[2]"]
    assert [tuple(int(d) for d in p.shape) for p in net.params] == [(3, 4), (3,), (2, 3), (2,)]
    assert [f.text for f in net.forward] == ["Z[1]", "A[1]", "Z[2]", "A[2]"]
    assert net.classes == 2


def test_mlp_puts_hidden_between_and_output_last():
    layers = mlp([5, 4, 3, 2], hidden="tanh", output="softmax")
    assert [(ly.n_in, ly.n_out, ly.activation) for ly in layers] == [
        (5, 4, "tanh"),
        (4, 3, "tanh"),
        (3, 2, "softmax"),
    ]


def test_logistic_regression_is_one_sigmoid_layer_without_superscripts():
    net = logistic_regression(3, l2=0.5)
    assert [p.text for p in net.params] == ["W", "b"]
    assert net.describe() == "3-1, sigmoid, bce, L2 λ=0.5"


def test_describe_names_custom_activations():
    net = Network([Dense(3, 4, sympy.sin), Dense(4, 1, "sigmoid")])
    assert net.describe() == "3-4-1, sin/sigmoid, bce"


def test_gradients_have_their_parameters_shapes():
    net = softmax_net()
    ev = evaluate(net, y=np.array([0, 1, 2, 2, 1, 0]))
    params = init_params(net)
    assert {k: v.shape for k, v in ev.gradients.items()} == {k: v.shape for k, v in params.items()}


def test_init_params_is_seeded_and_scaled():
    net = Network(mlp([400, 300, 1], hidden="relu", output="sigmoid"))
    a, b = init_params(net, seed=1), init_params(net, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], init_params(net, seed=2)["W1"])
    assert np.std(a["W1"]) == pytest.approx(np.sqrt(2 / 400), rel=0.05)  # He for ReLU
    assert np.std(a["W2"]) == pytest.approx(np.sqrt(1 / 300), rel=0.2)  # 1/n_in for σ
    assert not a["b1"].any()


# Bad networks.


def test_layer_size_mismatch_names_the_layer():
    with pytest.raises(ShapeError, match="layer 2") as e:
        Network([Dense(4, 3), Dense(5, 1, "sigmoid")])
    assert "5" in str(e.value) and "3" in str(e.value)


def test_layer_size_below_one_names_the_layer():
    with pytest.raises(ShapeError, match="layer 1"):
        Network([Dense(4, 0), Dense(0, 1, "sigmoid")])


@pytest.mark.parametrize(
    "sizes, message",
    [
        ([2, 1_000_001, 1], r"layer 1 has a size outside 1\.\.1,000,000: 2 -> 1000001"),
        ([2, 100_000_000_000, 1], "layer 1 has a size outside"),
        ([1_000_000, 101, 1], r"layer 1 would have 101,000,000 weights \(101×1000000\)"),
        ([2, 2.5, 1], "layer 1: sizes must be whole numbers, got 2.5"),
        ([2, True, 1], "sizes must be whole numbers, got True"),
    ],
)
def test_layer_sizes_are_bounded_before_anything_is_allocated(sizes, message):
    with pytest.raises(ShapeError, match=message):
        Network(mlp(sizes))


def test_the_largest_allowed_layer_and_depth_build():
    from symgrad.model.network import MAX_LAYERS, MAX_UNITS

    net = Network(mlp([1, MAX_UNITS, 1]))
    assert net.params[0].shape == (MAX_UNITS, 1)
    deep = Network(mlp([2] + [3] * (MAX_LAYERS - 1) + [1]))
    assert len(derive(deep).backward) == 3 * MAX_LAYERS
    with pytest.raises(ShapeError, match=f"at most {MAX_LAYERS} layers, got {MAX_LAYERS + 1}"):
        Network(mlp([2] + [3] * MAX_LAYERS + [1]))


@pytest.mark.parametrize(
    "l2, shown", [(-1, "-1"), (-1e-300, "-1e-300"), (np.nan, "nan"), (np.inf, "inf"), ("a", "'a'")]
)
def test_l2_must_be_finite_and_nonnegative(l2, shown):
    with pytest.raises(SymgradError, match=f"l2 must be a finite number ≥ 0, got {shown}$"):
        Network(mlp([2, 3, 1]), l2=l2)
    with pytest.raises(SymgradError, match="l2 must be"):
        logistic_regression(2, l2=l2)


def test_l2_accepts_zero_and_large_finite_values():
    assert Network(mlp([2, 1]), l2=0).l2 == 0.0
    assert Network(mlp([2, 1]), l2=np.float32(1e30)).l2 == pytest.approx(1e30)


def test_leaky_relu_slope_must_be_finite():
    with pytest.raises(SymgradError, match="layer 1: leaky ReLU's slope must be a finite number"):
        Network(mlp([2, 3, 1], hidden="leaky_relu", slope=float("nan")))


def test_unknown_activation_names_it_and_the_layer():
    with pytest.raises(SymgradError, match="layer 2: unknown activation 'swish'"):
        Network([Dense(4, 3, "relu"), Dense(3, 1, "swish")])


def test_activation_without_a_derivative_rule_names_the_layer():
    g = sympy.Function("g")
    with pytest.raises(NoDerivativeRuleError, match="layer 1") as e:
        Network([Dense(4, 3, g), Dense(3, 1, "sigmoid")])
    assert "g" in str(e.value)


def test_activation_ignoring_its_input_names_the_layer():
    with pytest.raises(SymgradError, match="layer 1: activation 1 does not depend"):
        Network([Dense(4, 3, lambda x: sympy.S.One), Dense(3, 1, "sigmoid")])


def test_bce_after_softmax_points_to_cross_entropy():
    with pytest.raises(SymgradError, match="cross_entropy") as e:
        Network(mlp([4, 5, 3], hidden="relu", output="softmax"), loss="bce")
    assert "layer 2" in str(e.value) and "sigmoid" in str(e.value)


def test_cross_entropy_after_sigmoid_raises():
    with pytest.raises(SymgradError, match="softmax") as e:
        Network(mlp([4, 5, 1], hidden="relu", output="sigmoid"), loss="cross_entropy")
    assert "layer 2" in str(e.value)


def test_softmax_on_a_hidden_layer_raises():
    with pytest.raises(SymgradError, match="layer 1: softmax"):
        Network([Dense(4, 3, "softmax"), Dense(3, 3, "softmax")], loss="cross_entropy")


def test_mse_after_softmax_raises():
    with pytest.raises(SymgradError, match="layer 2"):
        Network(mlp([4, 5, 3], hidden="relu", output="softmax"), loss="mse")


def test_unknown_loss_lists_the_known_ones():
    with pytest.raises(SymgradError, match="'hinge'.*bce, cross_entropy, mse"):
        Network(mlp([4, 1], output="sigmoid"), loss="hinge")


def test_empty_network_and_too_short_mlp_raise():
    with pytest.raises(ShapeError, match="at least one layer"):
        Network([])
    with pytest.raises(ShapeError, match="two sizes"):
        mlp([4])


# Bad data and parameters.


def test_class_label_out_of_range_names_y():
    with pytest.raises(ShapeError, match=r"y: class labels must lie in 0\.\.2, got 0\.\.3"):
        evaluate(softmax_net(3), y=np.array([0, 1, 2, 3, 0, 1]))


def test_negative_class_label_names_y():
    with pytest.raises(ShapeError, match="y: class labels"):
        evaluate(softmax_net(3), y=np.array([0, 1, -1, 2, 0, 1]))


def test_fractional_class_label_names_y():
    with pytest.raises(ShapeError, match="y must hold integer class labels"):
        evaluate(softmax_net(3), y=np.array([0, 1, 1.5, 2, 0, 1]))


def test_one_hot_labels_of_the_wrong_width_name_y():
    with pytest.raises(ShapeError, match=r"one-hot y must have shape \(6, 3\)"):
        evaluate(softmax_net(3), y=np.eye(3)[[0, 1, 2, 0, 1, 2]][:, :2])


def test_bce_label_outside_zero_one_names_y():
    with pytest.raises(ShapeError, match=r"y: binary cross-entropy labels must lie in \[0, 1\]"):
        evaluate(bce_net(), y=np.array([0, 1, 2, 1, 0, 1]))


def test_bce_with_two_targets_per_example_names_y():
    with pytest.raises(ShapeError, match="y must have 1 target"):
        evaluate(bce_net(), y=np.zeros((6, 2)))


@pytest.mark.parametrize("net", [bce_net, softmax_net], ids=["bce", "cross_entropy"])
def test_label_count_different_from_m_names_y(net):
    with pytest.raises(ShapeError, match="y has 5 labels for 6 examples"):
        evaluate(net(), y=np.array([0, 1, 1, 0, 1]))


def test_scalar_y_names_y():
    with pytest.raises(ShapeError, match="y must hold one label per example"):
        evaluate(bce_net(), y=1)


def test_x_with_the_wrong_number_of_columns_names_x():
    with pytest.raises(ShapeError, match=r"X must have shape \(m, 4\)"):
        evaluate(bce_net(), X=np.zeros((6, 5)))


def test_x_as_a_vector_names_x():
    with pytest.raises(ShapeError, match="X must have shape"):
        evaluate(bce_net(), X=np.zeros(6))


def test_parameter_of_the_wrong_shape_names_it():
    net = bce_net()
    params = init_params(net)
    params["W1"] = params["W1"].T
    with pytest.raises(ShapeError, match=r"parameter W1 must have shape \(5, 4\), got \(4, 5\)"):
        evaluate(net, params=params)


def test_bias_as_a_column_names_it():
    net = bce_net()
    params = init_params(net)
    params["b2"] = params["b2"][:, None]
    with pytest.raises(ShapeError, match=r"parameter b2 must have shape \(1,\)"):
        evaluate(net, params=params)


def test_missing_parameter_names_it():
    net = bce_net()
    params = init_params(net)
    del params["b1"]
    with pytest.raises(ShapeError, match="parameter b1 .*missing"):
        evaluate(net, params=params)


def test_valid_input_in_every_accepted_label_form_evaluates():
    # The negative tests above must not pass merely because everything raises.
    assert np.isfinite(evaluate(bce_net()).loss)
    assert np.isfinite(evaluate(bce_net(), y=np.linspace(0, 1, 6)).loss)
    assert np.isfinite(evaluate(softmax_net(), y=np.array([0, 1, 2, 2, 1, 0])).loss)
    assert np.isfinite(evaluate(softmax_net(), y=np.eye(3)[[0, 1, 2, 2, 1, 0]]).loss)
    mse = Network(mlp([4, 2], output="identity"), loss="mse")
    assert np.isfinite(evaluate(mse, y=np.zeros((6, 2))).loss)
