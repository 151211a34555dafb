"""
Builds an ONNX graph of all-MiniLM-L6-v2 (a 6-layer BERT encoder, hidden size 384, 12 heads) directly
from its safetensors weights with the `onnx` helper API, so no deep-learning framework is needed.

Usage: convert.py <model directory holding config.json and model.safetensors> <output .onnx path>

Graph (opset 17), following BERT (Devlin et al. 2019, section 3) as implemented by the checkpoint:
  inputs  input_ids [batch, sequence] int64, attention_mask [batch, sequence] int64
  embeddings = LayerNorm(word[input_ids] + position[0..sequence) + token_type[0])
  6 x { x = LayerNorm(x + Attention(x)); x = LayerNorm(x + W2 gelu(W1 x)) }   (post-norm, erf gelu)
  output  sentence_embedding [batch, 384] = mean of the last hidden states over unmasked tokens
The L2 normalisation of sentence-transformers' Normalize module is left to the caller.
"""
import json
import math
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file


def main() -> None:
    model_directory, output_path = sys.argv[1], sys.argv[2]
    with open(f"{model_directory}/config.json", encoding="utf-8") as handle:
        config = json.load(handle)
    weights = load_file(f"{model_directory}/model.safetensors")
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_size = hidden // heads
    epsilon = float(config["layer_norm_eps"])
    assert config["hidden_act"] == "gelu" and config["position_embedding_type"] == "absolute"

    initializers = []
    nodes = []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def constant(value: np.ndarray, prefix: str = "const") -> str:
        tensor_name = name(prefix)
        initializers.append(numpy_helper.from_array(value, tensor_name))
        return tensor_name

    def weight(key: str, transpose: bool = False) -> str:
        value = weights[key].astype(np.float32)
        return constant(np.ascontiguousarray(value.T) if transpose else value, key.replace(".", "_"))

    def node(op: str, inputs: list, **attributes) -> str:
        output = name(op.lower())
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def linear(x: str, prefix: str) -> str:
        # torch.nn.Linear stores [out, in]; x @ W^T + b.
        return node("Add", [node("MatMul", [x, weight(f"{prefix}.weight", transpose=True)]), weight(f"{prefix}.bias")])

    def layer_norm(x: str, prefix: str) -> str:
        return node("LayerNormalization", [x, weight(f"{prefix}.weight"), weight(f"{prefix}.bias")], axis=-1, epsilon=epsilon)

    # Embeddings.
    shape = node("Shape", ["input_ids"])
    sequence = node("Gather", [shape, constant(np.array(1, dtype=np.int64))], axis=0)
    positions = node("Range", [constant(np.array(0, dtype=np.int64)), sequence, constant(np.array(1, dtype=np.int64))])
    words = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], axis=0)
    position_vectors = node("Gather", [weight("embeddings.position_embeddings.weight"), positions], axis=0)
    token_type = constant(weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32), "token_type_0")
    x = layer_norm(node("Add", [node("Add", [words, position_vectors]), token_type]), "embeddings.LayerNorm")

    # Additive attention mask [batch, 1, 1, sequence]: 0 where attended, a large negative where padded.
    mask = node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    blocked = node("Mul", [node("Sub", [constant(np.array(1.0, dtype=np.float32)), mask]), constant(np.array(-1e9, dtype=np.float32))])
    additive = node("Unsqueeze", [blocked, constant(np.array([1, 2], dtype=np.int64))])

    split_heads = constant(np.array([0, 0, heads, head_size], dtype=np.int64), "split_heads")
    merge_heads = constant(np.array([0, 0, hidden], dtype=np.int64), "merge_heads")
    scale = constant(np.array(1.0 / math.sqrt(head_size), dtype=np.float32), "scale")
    half = constant(np.array(0.5, dtype=np.float32))
    one = constant(np.array(1.0, dtype=np.float32))
    inverse_sqrt2 = constant(np.array(1.0 / math.sqrt(2.0), dtype=np.float32))

    for index in range(config["num_hidden_layers"]):
        prefix = f"encoder.layer.{index}"
        query = node("Transpose", [node("Reshape", [linear(x, f"{prefix}.attention.self.query"), split_heads])], perm=[0, 2, 1, 3])
        key = node("Transpose", [node("Reshape", [linear(x, f"{prefix}.attention.self.key"), split_heads])], perm=[0, 2, 3, 1])
        value = node("Transpose", [node("Reshape", [linear(x, f"{prefix}.attention.self.value"), split_heads])], perm=[0, 2, 1, 3])
        scores = node("Add", [node("Mul", [node("MatMul", [query, key]), scale]), additive])
        probabilities = node("Softmax", [scores], axis=-1)
        context = node("Reshape", [node("Transpose", [node("MatMul", [probabilities, value])], perm=[0, 2, 1, 3]), merge_heads])
        attended = linear(context, f"{prefix}.attention.output.dense")
        x = layer_norm(node("Add", [attended, x]), f"{prefix}.attention.output.LayerNorm")
        inner = linear(x, f"{prefix}.intermediate.dense")
        # Exact gelu: 0.5 x (1 + erf(x / sqrt 2)).
        gelu = node("Mul", [node("Mul", [inner, half]), node("Add", [node("Erf", [node("Mul", [inner, inverse_sqrt2])]), one])])
        x = layer_norm(node("Add", [linear(gelu, f"{prefix}.output.dense"), x]), f"{prefix}.output.LayerNorm")

    # Mean pooling over the attended tokens.
    token_mask = node("Unsqueeze", [mask, constant(np.array([2], dtype=np.int64))])
    summed = node("ReduceSum", [node("Mul", [x, token_mask]), constant(np.array([1], dtype=np.int64))], keepdims=0)
    counts = node("Clip", [node("ReduceSum", [token_mask, constant(np.array([1], dtype=np.int64))], keepdims=0), constant(np.array(1e-9, dtype=np.float32))])
    nodes.append(helper.make_node("Div", [summed, counts], ["sentence_embedding"]))

    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="troupe-minilm-convert")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, output_path)


if __name__ == "__main__":
    main()
