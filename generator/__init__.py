"""Everything that makes fakes: the autoencoder-GAN swap (models, trainer, train, render, evaluate),
self-blends (selfblend), warps (warpfake), down-up resampled crops (resample), perturbations (perturb), adversarial attacks (attacks, against
a scoring callable), and the test-set builders (testset, photoreals, clips)."""
