#!/usr/bin/env python3
"""Writes the safetensors fixtures (see requirements.txt for versions).

tests/fixtures/safetensors/
  torch_all_dtypes.safetensors  written by safetensors.torch.save_file with metadata {"format": "pt"}:
                                one tensor of each dtype t5zero loads (F32, F64, BF16, I32, I64, U8),
                                a 0-rank and an empty tensor; the values are listed in VALUES below and
                                in the test. t5zero's writer must reproduce this file byte for byte.
  torch_f16.safetensors         one F16 tensor (normals, a subnormal, -0, ±inf, 65504): loads as f32.

tests/fixtures/safetensors_corpus/
  valid_*.safetensors           files the reader must accept (and load every tensor of)
  bad_*.safetensors             files it must refuse with t5zero::Error; the name says what is wrong
  Also the seed corpus of the fuzz target tools/fuzz/fuzz_safetensors.cpp. The script checks that
  the reference reader (safetensors.safe_open) agrees with every name, except
  bad_dtype_unsupported_i8: a valid file whose I8 tensor t5zero does not load.

Usage: python tools/reference/make_safetensors_fixtures.py [--root .]
"""

import argparse
import json
import os
import struct

import torch
from safetensors import safe_open
from safetensors.torch import save_file

VALUES = {
    "a_f32": (torch.float32, [2, 3], [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5]),
    "b_f64": (torch.float64, [4], [1.0 / 3.0, -2.5, 1e300, -0.0]),
    "c_bf16": (torch.bfloat16, [3, 1], [1.0, -2.0, 0.15625]),
    "d_i32": (torch.int32, [2, 2], [-7, 0, 2**31 - 1, -(2**31)]),
    "e_i64": (torch.int64, [], [-(2**40) - 3]),
    "f_u8": (torch.uint8, [5], [0, 1, 127, 128, 255]),
    "g_empty": (torch.float32, [0, 4], []),
}

F16_VALUES = [1.0, -2.5, 0.099975586, 5.9604645e-08, -0.0, float("inf"), float("-inf"), 65504.0]


def tensor_of(dtype, shape, values):
    return torch.tensor(values, dtype=dtype).reshape(shape)


def raw_file(header, data=b"", header_length=None, pad=True):
    """A safetensors image from a header (dict or raw text), padded with spaces like the writer."""
    text = header if isinstance(header, (bytes, str)) else json.dumps(header, separators=(",", ":"))
    body = text.encode("utf-8") if isinstance(text, str) else text
    if pad:
        body += b" " * ((8 - len(body) % 8) % 8)
    length = len(body) if header_length is None else header_length
    return struct.pack("<Q", length) + body + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def corpus_files():
    f32x4 = struct.pack("<4f", 1.0, 2.0, 3.0, 4.0)
    two = {"x": entry("F32", [2], 0, 8), "y": entry("F32", [2], 8, 16)}
    files = {}

    # Accepted.
    files["valid_two_f32"] = raw_file(two, f32x4)
    files["valid_empty_header"] = raw_file({}, b"")
    files["valid_metadata_only"] = raw_file({"__metadata__": {"format": "pt"}}, b"")
    files["valid_zero_size_tensors"] = raw_file(
        {"e": entry("F32", [0, 3], 0, 0), "s": entry("I64", [], 0, 8), "z": entry("U8", [0], 8, 8)},
        struct.pack("<q", -5))
    # Header length not a multiple of 8: data is unaligned, loads must copy.
    files["valid_unaligned_unpadded"] = raw_file({"x": entry("F32", [4], 0, 16)}, f32x4, pad=False)
    files["valid_f16"] = raw_file({"h": entry("F16", [3], 0, 6)}, struct.pack("<3e", 1.0, -0.5, 65504.0))
    files["valid_bf16_i32_u8_f64"] = raw_file(
        {"a": entry("F64", [1], 0, 8), "b": entry("I32", [1], 8, 12), "c": entry("BF16", [2], 12, 16),
         "d": entry("U8", [3], 16, 19)},
        struct.pack("<d", 2.5) + struct.pack("<i", -3) + struct.pack("<2H", 0x3F80, 0xC000) + bytes([1, 2, 3]))
    files["valid_unknown_entry_field"] = raw_file(
        {"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "note": "ignored"}}, f32x4[:4])

    # Refused.
    good = raw_file(two, f32x4)
    files["bad_shorter_than_length_field"] = b"\x10\x00\x00"
    files["bad_empty_file"] = b""
    files["bad_truncated_data"] = good[:-3]
    files["bad_truncated_header"] = good[:20]
    files["bad_header_length_huge"] = raw_file(two, f32x4, header_length=2**64 - 1)
    files["bad_header_length_over_limit"] = raw_file(two, f32x4, header_length=100_000_001)
    files["bad_header_length_past_file"] = raw_file(two, f32x4, header_length=len(good))
    files["bad_header_not_json"] = raw_file("not json at all", b"")
    files["bad_header_json_array"] = raw_file("[1,2,3]", b"")
    files["bad_header_invalid_utf8"] = raw_file(b'{"\xff\xfe":{}}', b"")
    files["bad_header_zero_length"] = raw_file("", b"", pad=False)
    files["bad_gap"] = raw_file({"x": entry("F32", [2], 0, 8), "y": entry("F32", [1], 12, 16)}, f32x4)
    files["bad_overlap"] = raw_file({"x": entry("F32", [2], 0, 8), "y": entry("F32", [2], 4, 12)}, f32x4[:12])
    files["bad_not_from_zero"] = raw_file({"x": entry("F32", [2], 8, 16)}, f32x4)
    files["bad_end_before_begin"] = raw_file({"x": entry("F32", [0], 8, 0)}, f32x4[:8])
    files["bad_offsets_one_number"] = raw_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [8]}}, f32x4[:8])
    files["bad_offsets_negative"] = raw_file({"x": entry("F32", [2], -8, 0)}, b"")
    files["bad_offsets_float"] = raw_file({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8.0]}}, f32x4[:8])
    files["bad_shape_size_mismatch"] = raw_file({"x": entry("F32", [3], 0, 8)}, f32x4[:8])
    files["bad_shape_negative"] = raw_file({"x": entry("F32", [-2], 0, 8)}, f32x4[:8])
    files["bad_shape_not_integer"] = raw_file({"x": entry("F32", [2.5], 0, 8)}, f32x4[:8])
    files["bad_shape_overflow"] = raw_file({"x": entry("F32", [2**62, 2**62], 0, 8)}, f32x4[:8])
    files["bad_shape_bytes_overflow"] = raw_file({"x": entry("F64", [2**61], 0, 8)}, f32x4[:8])
    files["bad_dtype_unknown"] = raw_file({"x": entry("F17", [2], 0, 8)}, f32x4[:8])
    files["bad_dtype_not_string"] = raw_file({"x": entry(4, [2], 0, 8)}, f32x4[:8])
    files["bad_dtype_unsupported_i8"] = raw_file({"x": entry("I8", [8], 0, 8)}, f32x4[:8])
    files["bad_duplicate_names"] = raw_file(
        '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
        '"x":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}', f32x4)
    files["bad_trailing_bytes"] = raw_file(two, f32x4 + b"\x00" * 4)
    files["bad_metadata_not_object"] = raw_file({"__metadata__": "pt", "x": entry("F32", [2], 0, 8)}, f32x4[:8])
    files["bad_metadata_value_not_string"] = raw_file({"__metadata__": {"format": 1}}, b"")
    files["bad_entry_not_object"] = raw_file({"x": [0, 8]}, f32x4[:8])
    files["bad_entry_missing_dtype"] = raw_file({"x": {"shape": [2], "data_offsets": [0, 8]}}, f32x4[:8])
    files["bad_entry_missing_shape"] = raw_file({"x": {"dtype": "F32", "data_offsets": [0, 8]}}, f32x4[:8])
    files["bad_entry_missing_offsets"] = raw_file({"x": {"dtype": "F32", "shape": [2]}}, f32x4[:8])
    return files


def reference_accepts(path):
    try:
        with safe_open(path, "pt") as f:
            for key in f.keys():
                f.get_tensor(key)
        return True
    except Exception:  # the reference raises several exception types for bad files
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="repository root")
    args = parser.parse_args()

    fixtures = os.path.join(args.root, "tests", "fixtures", "safetensors")
    os.makedirs(fixtures, exist_ok=True)
    tensors = {name: tensor_of(*spec) for name, spec in VALUES.items()}
    save_file(tensors, os.path.join(fixtures, "torch_all_dtypes.safetensors"), metadata={"format": "pt"})
    save_file({"h": torch.tensor(F16_VALUES, dtype=torch.float16)},
              os.path.join(fixtures, "torch_f16.safetensors"), metadata={"format": "pt"})

    corpus = os.path.join(args.root, "tests", "fixtures", "safetensors_corpus")
    os.makedirs(corpus, exist_ok=True)
    for name in os.listdir(corpus):
        if name.endswith(".safetensors"):
            os.remove(os.path.join(corpus, name))
    for name, data in corpus_files().items():
        path = os.path.join(corpus, name + ".safetensors")
        with open(path, "wb") as out:
            out.write(data)
        expected = name.startswith("valid_") or name == "bad_dtype_unsupported_i8"
        if reference_accepts(path) != expected:
            raise SystemExit(f"{name}: the reference reader disagrees with the name")


if __name__ == "__main__":
    main()
