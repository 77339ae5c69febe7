"""Loss on assistant tokens only: labels are -100 on every prompt token and padding."""

from __future__ import annotations

from llmrec.finetune.local import LocalTrainConfig
from llmrec.finetune.local._data import tokenize_file
from llmrec.finetune.local._model import load_tokenizer
from llmrec.finetune.local.train import build_trainer


def test_labels_cover_exactly_the_assistant_answer(tiny_folder, train_file, tmp_path) -> None:
    config = LocalTrainConfig(method="full", batch_size=4, per_device_batch_size=4)
    tokenizer = load_tokenizer(str(tiny_folder), config)
    data = tokenize_file(tokenizer, train_file, max_seq_len=1024, overlong="error")
    trainer = build_trainer(
        str(tiny_folder), tokenizer, data, None, tmp_path, config, progress=False
    )
    batch = next(iter(trainer.get_train_dataloader()))
    import json

    answers = {
        json.loads(line)["messages"][-1]["content"]
        for line in train_file.read_text(encoding="utf-8").splitlines()
    }
    for ids, labels, attention in zip(
        batch["input_ids"].tolist(),
        batch["labels"].tolist(),
        batch["attention_mask"].tolist(),
        strict=True,
    ):
        learned = [t for t, label in zip(ids, labels, strict=True) if label != -100]
        assert all(label in (-100, t) for t, label in zip(ids, labels, strict=True))
        text = tokenizer.decode(learned)
        assert text.endswith("<|im_end|>\n")
        assert text[: -len("<|im_end|>\n")] in answers
        # nothing before the answer and no padding is learned
        first = labels.index(next(label for label in labels if label != -100))
        assert all(label == -100 for label in labels[:first])
        assert all(label == -100 for label, a in zip(labels, attention, strict=True) if a == 0)
        assert "<|im_start|>assistant\n" in tokenizer.decode(ids[:first])
