"""
Reference forward pass of all-MiniLM-L6-v2 in plain numpy, written independently of convert.py: it
reads the safetensors weights itself, tokenizes with the Rust `tokenizers` library (truncation to 256
tokens, as sentence-transformers configures this model), and runs one text at a time without padding.

Usage: reference.py <model directory> <texts.json>; reads a JSON array of texts from the file and writes
{"ids": [[...]], "embeddings": [[...]]} (embeddings mean-pooled and L2-normalised) on stdout.
"""
import json
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def erf(x):
    """Abramowitz & Stegun 7.1.26: |error| < 1.5e-7, far below the tolerance the tests compare at."""
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    polynomial = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - polynomial * np.exp(-x * x))


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def encode(ids, w, config):
    """Hidden states [tokens, hidden] for one unpadded sequence, in float64."""
    heads = config["num_attention_heads"]
    epsilon = config["layer_norm_eps"]
    g = lambda key: w[key]
    count = len(ids)
    x = g("embeddings.word_embeddings.weight")[ids] + g("embeddings.position_embeddings.weight")[:count] + g("embeddings.token_type_embeddings.weight")[0]
    x = layer_norm(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), epsilon)
    for layer in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        dense = lambda h, name: h @ g(p + name + ".weight").T + g(p + name + ".bias")
        q, k, v = dense(x, "attention.self.query"), dense(x, "attention.self.key"), dense(x, "attention.self.value")
        size = q.shape[1] // heads
        outputs = []
        for head in range(heads):
            columns = slice(head * size, (head + 1) * size)
            scores = q[:, columns] @ k[:, columns].T / np.sqrt(size)
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            outputs.append((scores / scores.sum(axis=1, keepdims=True)) @ v[:, columns])
        attended = dense(np.concatenate(outputs, axis=1), "attention.output.dense")
        x = layer_norm(x + attended, g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias"), epsilon)
        inner = gelu(dense(x, "intermediate.dense"))
        x = layer_norm(x + dense(inner, "output.dense"), g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias"), epsilon)
    return x


def main():
    directory = sys.argv[1]
    with open(f"{directory}/config.json", encoding="utf-8") as handle:
        config = json.load(handle)
    weights = {key: value.astype(np.float64) for key, value in load_file(f"{directory}/model.safetensors").items()}
    tokenizer = Tokenizer.from_file(f"{directory}/tokenizer.json")
    tokenizer.enable_truncation(256)
    tokenizer.no_padding()
    with open(sys.argv[2], encoding="utf-8") as handle:
        texts = json.load(handle)
    result = {"ids": [], "embeddings": []}
    for text in texts:
        ids = tokenizer.encode(text).ids
        pooled = encode(ids, weights, config).mean(axis=0)
        result["ids"].append(ids)
        result["embeddings"].append((pooled / np.linalg.norm(pooled)).tolist())
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
