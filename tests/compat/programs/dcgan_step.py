"""A small DCGAN on 16x16 blob images (in the style of the classic DCGAN tutorial).

The generator upsamples noise with ConvTranspose2d + BatchNorm2d + ReLU and ends in Tanh; the
discriminator downsamples with strided Conv2d + LeakyReLU. Both start from NumPy-drawn weights
(the tutorial's N(0, 0.02) init), the noise comes from NumPy and the data is read in order, so
the run draws no random numbers from the library and is deterministic.
"""

import argparse
import io
import json
import tempfile

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.tensorboard import SummaryWriter

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=6)
parser.add_argument("--batch-size", type=int, default=16)
parser.add_argument("--nz", type=int, default=8)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

torch.manual_seed(args.seed)
rng = np.random.default_rng(args.seed)


def make_blobs(n, size=16):
    """Images of one bright Gaussian blob at a random place, scaled into [-1, 1]."""
    grid = np.arange(size, dtype=np.float32)
    cy = rng.uniform(4, size - 4, size=(n, 1, 1))
    cx = rng.uniform(4, size - 4, size=(n, 1, 1))
    width = rng.uniform(1.5, 3.0, size=(n, 1, 1))
    blob = np.exp(-((grid[None, :, None] - cy) ** 2 + (grid[None, None, :] - cx) ** 2) / width**2)
    return (2 * blob - 1).astype(np.float32)[:, None]


class BlobDataset(Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return torch.from_numpy(self.images[index])


class Generator(nn.Module):
    def __init__(self, nz, ngf=16):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),  # 1x1 -> 4x4
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # -> 8x8
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False),  # -> 16x16
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf=16):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False),  # 16x16 -> 8x8
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),  # -> 4x4
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),  # -> 1x1 logit
        )

    def forward(self, x):
        return self.main(x).view(-1)


def weights_init(m):
    """The DCGAN init, drawn from NumPy so that both libraries start from the same weights."""
    classname = m.__class__.__name__
    with torch.no_grad():
        if classname.find("Conv") != -1:
            w = rng.normal(0.0, 0.02, size=tuple(m.weight.shape)).astype(np.float32)
            m.weight.copy_(torch.from_numpy(w))
        elif classname.find("BatchNorm") != -1:
            w = rng.normal(1.0, 0.02, size=tuple(m.weight.shape)).astype(np.float32)
            m.weight.copy_(torch.from_numpy(w))
            m.bias.fill_(0)


netG = Generator(args.nz)
netD = Discriminator()
netG.apply(weights_init)
netD.apply(weights_init)

dataset = BlobDataset(make_blobs(args.batch_size * args.steps))
loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=False, num_workers=2)
noise_batches = rng.standard_normal((args.steps, args.batch_size, args.nz, 1, 1)).astype(np.float32)
fixed_noise = torch.from_numpy(rng.standard_normal((4, args.nz, 1, 1)).astype(np.float32))

criterion = nn.BCEWithLogitsLoss()
optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
real_label, fake_label = 1.0, 0.0

losses = []
with tempfile.TemporaryDirectory() as logdir:
    writer = SummaryWriter(logdir)
    for i, real in enumerate(loader):
        b = real.size(0)
        # (1) update D: maximize log D(x) + log(1 - D(G(z)))
        netD.zero_grad()
        label = torch.full((b,), real_label)
        errD_real = criterion(netD(real), label)
        errD_real.backward()
        fake = netG(torch.from_numpy(noise_batches[i]))
        label.fill_(fake_label)
        errD_fake = criterion(netD(fake.detach()), label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optimizerD.step()
        # (2) update G: maximize log D(G(z))
        netG.zero_grad()
        label.fill_(real_label)
        errG = criterion(netD(fake), label)
        errG.backward()
        optimizerG.step()
        losses += [errD.item(), errG.item()]
        writer.add_scalar("loss/D", errD.item(), i)
        writer.add_scalar("loss/G", errG.item(), i)
        print(f"[{i}/{args.steps}] Loss_D: {errD.item():.4f} Loss_G: {errG.item():.4f}")
    writer.close()

# save the generator and load it into a fresh one: the same images from the fixed noise
netG.eval()
buffer = io.BytesIO()
torch.save(netG.state_dict(), buffer)
buffer.seek(0)
netG2 = Generator(args.nz)
netG2.load_state_dict(torch.load(buffer))
netG2.eval()
with torch.no_grad():
    a, b = netG(fixed_noise), netG2(fixed_noise)
assert torch.allclose(a, b), "the reloaded generator differs"
losses.append(a.abs().mean().item())
print(json.dumps({"losses": losses, "deterministic": True}))
