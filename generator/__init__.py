"""Autoencoder-GAN face swap: shared encoder, one decoder per identity, patch discriminator."""
