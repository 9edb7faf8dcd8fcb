"""Neural-network building blocks: Module, Parameter, containers, layers, losses, init.

``import deepgrad.nn as nn`` then ``nn.Linear``, ``nn.Sequential``, ``nn.init.kaiming_uniform_``,
``nn.functional`` (as ``F``) — PyTorch's names, so that ``torch.nn`` code carries over.
"""

from deepgrad.nn import functional, init, utils
from deepgrad.nn.container import ModuleDict, ModuleList, ParameterList, Sequential
from deepgrad.nn.linear import Flatten, Identity, Linear, Maxout, TiedLinear, Unflatten
from deepgrad.nn.module import Module, RemovableHandle
from deepgrad.nn.parameter import Parameter
from deepgrad.nn.summary import summary
