"""Writes a tiny llama-architecture GGUF model with seeded random weights.

The text it generates is nonsense, but llama.cpp runs it like any model: its prefill costs real
compute per prompt token, and its KV cache is real, so prompt caching and a cache miss are real too.
The vocabulary is SentencePiece-style with the 256 byte tokens only, so every prompt byte is one
token and a byte prefix is a token prefix.

Usage: python write-gguf.py OUTPUT [--embedding N] [--layers N] [--seed N]
"""
import argparse

import numpy as np
import gguf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("--embedding", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--context", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    embedding = args.embedding
    feed_forward = embedding * 3
    head_dimension = embedding // args.heads
    kv_width = head_dimension * args.kv_heads

    tokens = [b"<unk>", b"<s>", b"</s>"] + [("<0x%02X>" % byte).encode() for byte in range(256)]
    token_types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    vocabulary = len(tokens)

    writer = gguf.GGUFWriter(args.output, "llama")
    writer.add_name("troupe-tiny-llama")
    writer.add_context_length(args.context)
    writer.add_embedding_length(embedding)
    writer.add_block_count(args.layers)
    writer.add_feed_forward_length(feed_forward)
    writer.add_head_count(args.heads)
    writer.add_head_count_kv(args.kv_heads)
    writer.add_rope_dimension_count(head_dimension)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(vocabulary)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * vocabulary)
    writer.add_token_types(token_types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * (1.0 / np.sqrt(shape[-1]))).astype(np.float32)

    writer.add_tensor("token_embd.weight", weight(vocabulary, embedding))
    writer.add_tensor("output_norm.weight", np.ones(embedding, dtype=np.float32))
    writer.add_tensor("output.weight", weight(vocabulary, embedding))
    for block in range(args.layers):
        prefix = f"blk.{block}."
        writer.add_tensor(prefix + "attn_norm.weight", np.ones(embedding, dtype=np.float32))
        writer.add_tensor(prefix + "attn_q.weight", weight(embedding, embedding))
        writer.add_tensor(prefix + "attn_k.weight", weight(kv_width, embedding))
        writer.add_tensor(prefix + "attn_v.weight", weight(kv_width, embedding))
        writer.add_tensor(prefix + "attn_output.weight", weight(embedding, embedding))
        writer.add_tensor(prefix + "ffn_norm.weight", np.ones(embedding, dtype=np.float32))
        writer.add_tensor(prefix + "ffn_gate.weight", weight(feed_forward, embedding))
        writer.add_tensor(prefix + "ffn_up.weight", weight(feed_forward, embedding))
        writer.add_tensor(prefix + "ffn_down.weight", weight(embedding, feed_forward))

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
