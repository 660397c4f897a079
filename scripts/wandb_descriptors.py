"""The field numbers of the W&B records driftloop writes, from the `wandb` package's own
protobuf descriptors (wandb.proto.wandb_internal_pb2), as data-fixtures/wandb/
descriptors.json. The Rust test `the_field_numbers_are_wandbs` compares driftloop's
declared numbers with that file.

    python scripts/wandb_descriptors.py            writes the file
    python scripts/wandb_descriptors.py --check    fails if the file differs from the package"""

import json
import os
import sys

import wandb
from wandb.proto import wandb_internal_pb2 as pb

MESSAGES = ["Record", "_RecordInfo", "HeaderRecord", "VersionInfo", "RunRecord", "ConfigRecord", "ConfigItem",
            "HistoryRecord", "HistoryItem", "HistoryStep", "SummaryRecord", "SummaryItem", "RunExitRecord",
            "FinalRecord", "ArtifactRecord", "ArtifactManifest", "StoragePolicyConfigItem", "ArtifactManifestEntry",
            "ExtraItem"]
PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data-fixtures", "wandb", "descriptors.json")


def descriptors():
    found = {}
    for name in MESSAGES:
        # The private `_RecordInfo` is reached through the field that holds it.
        message = pb.Record.DESCRIPTOR.fields_by_name["_info"].message_type if name == "_RecordInfo" \
            else getattr(pb, name).DESCRIPTOR
        found[name] = {f.name: f.number for f in message.fields}
    return {"wandb": wandb.__version__, "messages": found}


def main():
    fresh = descriptors()
    if "--check" in sys.argv:
        with open(PATH) as f:
            committed = json.load(f)
        if committed != fresh:
            sys.exit(f"{PATH} differs from wandb {wandb.__version__}'s descriptors: run scripts/wandb_descriptors.py")
        n = sum(len(fields) for fields in fresh["messages"].values())
        print(f"descriptors.json matches wandb {wandb.__version__}: {n} fields of {len(MESSAGES)} messages")
    else:
        with open(PATH, "w") as f:
            json.dump(fresh, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote", PATH)


if __name__ == "__main__":
    main()
