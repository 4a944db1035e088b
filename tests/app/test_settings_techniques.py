"""The training settings panel shows the rows of issue 24's techniques (item 6) only where they
apply: AdaDelta's ρ, Lookahead's α once Lookahead is on, the polynomial and cyclic schedules'
rows, reduce-on-plateau's lowest rate, the hinge loss with class weights, and the L1 penalty."""

from __future__ import annotations

from tests.app.test_settings_panel import choose, make_panel, offline  # noqa: F401


def shown(panel, title: str) -> set[str]:
    form = panel.forms[title]
    return {path for path, row in form.rows.items() if form.form.isRowVisible(row.widget)}


def test_optimizer_rows_follow_the_choice_and_lookahead(qtbot):
    doc, panel, _ = make_panel(qtbot)  # Adam, without Lookahead
    rows = panel.forms["Optimizer"].rows
    rest = {"optimizer.name", "optimizer.lr", "optimizer.weight_decay", "optimizer.eps",
            "optimizer.lookahead_k"}
    assert shown(panel, "Optimizer") == rest | {"optimizer.beta1", "optimizer.beta2"}
    choose(rows["optimizer.name"].editor, "adadelta")
    assert doc.project.training.optimizer.name == "adadelta"
    assert rows["optimizer.name"].editor.field.currentText() == "AdaDelta"
    assert shown(panel, "Optimizer") == rest | {"optimizer.rho"}
    assert panel.training_apply("optimizer.lookahead_k", 5, False) is None
    assert shown(panel, "Optimizer") == rest | {"optimizer.rho", "optimizer.lookahead_alpha"}
    choose(rows["optimizer.name"].editor, "lamb")
    assert shown(panel, "Optimizer") == rest | {"optimizer.beta1", "optimizer.beta2",
                                                "optimizer.lookahead_alpha"}
    assert doc.undo_stack.text(1) == "Set Lookahead steps k to 5"
    assert "must be at least 0" in panel.training_apply("optimizer.lookahead_k", -1, False)


def test_schedule_rows_follow_the_choice_and_the_cycle_mode(qtbot):
    doc, panel, _ = make_panel(qtbot)
    rows = panel.forms["Schedule"].rows
    always = {"schedule.name", "schedule.warmup_epochs"}
    choose(rows["schedule.name"].editor, "cyclic")
    assert rows["schedule.name"].editor.field.currentText() == "Cyclic"
    cyclic = always | {"schedule.cycle_mode", "schedule.cycle_epochs", "schedule.eta_min"}
    assert shown(panel, "Schedule") == cyclic
    choose(rows["schedule.cycle_mode"].editor, "exp_range")  # its height shrinks by γ
    assert shown(panel, "Schedule") == cyclic | {"schedule.gamma"}
    choose(rows["schedule.name"].editor, "polynomial")
    assert shown(panel, "Schedule") == always | {"schedule.power", "schedule.eta_min"}
    choose(rows["schedule.name"].editor, "plateau")
    assert shown(panel, "Schedule") == always | {"schedule.patience", "schedule.factor",
                                                 "schedule.min_lr"}
    assert "greater than 0" in panel.training_apply("schedule.power", 0.0, False)
    assert doc.project.training.schedule.power == 1.0


def test_hinge_loss_takes_class_weights_and_l1_shows_for_every_loss(qtbot):
    doc, panel, _ = make_panel(qtbot)
    rows = panel.forms["Loss"].rows
    assert shown(panel, "Loss") == {"loss.name", "loss.label_smoothing", "loss.class_weights",
                                    "loss.l1"}
    choose(rows["loss.name"].editor, "hinge")
    assert rows["loss.name"].editor.field.currentText() == "Hinge (multi-class SVM)"
    assert shown(panel, "Loss") == {"loss.name", "loss.class_weights", "loss.l1"}
    assert panel.training_apply("loss.l1", 1e-5, False) is None
    assert doc.project.training.loss.l1 == 1e-5
    assert "must be at least 0" in panel.training_apply("loss.l1", -1.0, False)
