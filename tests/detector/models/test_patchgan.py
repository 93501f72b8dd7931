import torch

from detector.models.patchgan import PatchGANDetector
from generator.discriminator import PatchDiscriminator


def test_logit_is_mean_of_patch_logits():
    torch.manual_seed(0)
    disc = PatchDiscriminator(width=8, n_layers=2, spectral=False).eval()
    det = PatchGANDetector.from_discriminator(disc).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(det(x), disc(x).mean(dim=(1, 2, 3)))


def test_trained_discriminator_weights_load_into_detector():
    disc = PatchDiscriminator(width=8, n_layers=2, spectral=True)
    det = PatchGANDetector(width=8, n_layers=2, spectral=True)
    det.disc.load_state_dict(disc.state_dict())  # same keys: a GAN run's discriminator can seed a detector
