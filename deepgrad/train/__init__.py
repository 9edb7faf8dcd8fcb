"""Training tools: the Trainer, callbacks, metrics, the training Monitor, the Doctor and plots.

``Trainer(model, loss_fn, optimizer, metrics=["accuracy"], callbacks=[EarlyStopping()]).fit(train, val,
epochs=10)`` trains, one ``Updater.update(trainer, batch)`` per batch (``StandardUpdater`` unless
``Trainer(updater=...)``); ``Monitor`` watches hidden units and gradients; ``Doctor`` turns what was
recorded into plain-language diagnoses; ``deepgrad.train.plots`` draws learning curves
(matplotlib, imported only when used).
"""

from deepgrad.train import metrics, plots
from deepgrad.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientClipping,
    JSONLogger,
    LRSchedulerCallback,
    ModelCheckpoint,
    ProgressBar,
    TensorBoardLogger,
)
from deepgrad.train.checkpoint import latest_checkpoint, load_checkpoint
from deepgrad.train.doctor import Diagnosis, Doctor
from deepgrad.train.guards import NonFiniteLossError, TrainingInterrupted
from deepgrad.train.history import History
from deepgrad.train.metrics import (
    F1,
    Accuracy,
    ConfusionMatrix,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    Precision,
    R2Score,
    Recall,
    TopKAccuracy,
)
from deepgrad.train.monitor import Monitor
from deepgrad.train.trainer import Trainer
from deepgrad.train.updater import CompiledUpdater, StandardUpdater, Updater

__all__ = [
    "F1",
    "Accuracy",
    "CSVLogger",
    "Callback",
    "CompiledUpdater",
    "ConfusionMatrix",
    "Diagnosis",
    "Doctor",
    "EarlyStopping",
    "GradientClipping",
    "History",
    "JSONLogger",
    "LRSchedulerCallback",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "ModelCheckpoint",
    "Monitor",
    "NonFiniteLossError",
    "Precision",
    "ProgressBar",
    "R2Score",
    "Recall",
    "StandardUpdater",
    "TensorBoardLogger",
    "TopKAccuracy",
    "Trainer",
    "TrainingInterrupted",
    "Updater",
    "latest_checkpoint",
    "load_checkpoint",
    "metrics",
    "plots",
]
