"""Callbacks for ``Trainer.fit``: one hook grammar, ``on_{fit,epoch,batch,eval}_{start,end}(trainer, logs)``.

See ``Callback`` for the order of the hooks and what their logs hold.
"""

from deepgrad.train.callbacks.base import Callback
from deepgrad.train.callbacks.csv_logger import CSVLogger
from deepgrad.train.callbacks.early_stopping import EarlyStopping
from deepgrad.train.callbacks.gradient_clipping import GradientClipping
from deepgrad.train.callbacks.json_logger import JSONLogger
from deepgrad.train.callbacks.lr_scheduler import LRSchedulerCallback
from deepgrad.train.callbacks.model_checkpoint import ModelCheckpoint
from deepgrad.train.callbacks.progress_bar import ProgressBar
from deepgrad.train.callbacks.tensorboard_logger import TensorBoardLogger

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "GradientClipping",
    "JSONLogger",
    "LRSchedulerCallback",
    "ModelCheckpoint",
    "ProgressBar",
    "TensorBoardLogger",
]
