"""Contrastive LoRA fine-tuning in PyTorch Lightning."""
