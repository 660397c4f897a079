"""A Python reference of the predict endpoint, for benches/serve.py only (not product code):
FastAPI + pydantic validation of the same 17 fields, the same model family fitted with
scikit-learn on the original dataset, and the same INSERT into MariaDB with PyMySQL.
Run: uvicorn --app-dir benches predict_reference:app (env DRIFTLOOP_BENCH_DB, _FAMILY, _PARAMS)."""

import json
import os
import threading
from typing import Literal, Union

import numpy as np
import pandas as pd
import pymysql
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, field_validator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import CategoricalNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from train import CATEGORIES, CLASSES, FREQUENCY, ORIGINAL, encode

Frequency = Literal["Seldom", "Sometimes", "Usually", "Most-Often"]
YesNo = Literal["NO", "YES"]


class Features(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sadness: Frequency
    euphoric: Frequency
    exhausted: Frequency
    sleep_disorder: Frequency
    mood_swing: YesNo
    suicidal_thoughts: YesNo
    anorexia: YesNo
    authority_respect: YesNo
    try_explanation: YesNo
    aggressive_response: YesNo
    ignore_and_move_on: YesNo
    nervous_breakdown: YesNo
    admit_mistakes: YesNo
    overthinking: YesNo
    sexual_activity: Union[int, str]
    concentration: Union[int, str]
    optimism: Union[int, str]

    @field_validator("sexual_activity", "concentration", "optimism")
    @classmethod
    def score(cls, value):
        number = int(str(value).split(" ")[0])
        if not 1 <= number <= 10:
            raise ValueError("an integer from 1 to 10")
        return number


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    features: Features
    request_id: Union[str, None] = None


def fit():
    frame = pd.read_csv(ORIGINAL, dtype=str, encoding="utf-8-sig").iloc[:, 1:]
    x, y = encode(frame)
    family = os.environ.get("DRIFTLOOP_BENCH_FAMILY", "random_forest")
    params = json.loads(os.environ.get("DRIFTLOOP_BENCH_PARAMS", "{}"))
    if family == "random_forest":
        model = RandomForestClassifier(n_estimators=params.get("n_trees", 100), max_depth=params.get("max_depth"),
                                       min_samples_leaf=params.get("min_samples_leaf", 1), random_state=42)
    elif family == "decision_tree":
        model = DecisionTreeClassifier(max_depth=params.get("max_depth"),
                                       min_samples_leaf=params.get("min_samples_leaf", 1), random_state=42)
    elif family == "logistic_regression":
        model = make_pipeline(StandardScaler(), LogisticRegression(C=1 / params.get("alpha", 0.1), max_iter=1000))
    elif family == "naive_bayes":
        model = CategoricalNB(alpha=params.get("alpha", 1.0), min_categories=CATEGORIES)
    else:
        raise SystemExit(f"predict_reference: no scikit-learn counterpart for the family {family!r}")
    return model.fit(x, y)


MODEL = fit()
COLUMNS = list(Features.model_fields)
INSERT = (f"INSERT INTO features ({', '.join(COLUMNS)}, diagnosis, label_source, model_version, request_id) "
          f"VALUES ({', '.join(['%s'] * (len(COLUMNS) + 4))})")
local = threading.local()
app = FastAPI()


def connection():
    if not hasattr(local, "conn"):
        local.conn = pymysql.connect(host="127.0.0.1", user="root", database=os.environ["DRIFTLOOP_BENCH_DB"],
                                     autocommit=True)
    return local.conn


@app.post("/v1/predict")
def predict(request: PredictRequest):
    f = request.features
    row = [getattr(f, c) for c in COLUMNS]
    x = np.array([[FREQUENCY.index(v) for v in row[:4]] + [1 if v == "YES" else 0 for v in row[4:14]] + row[14:]],
                 dtype=float)
    probabilities = MODEL.predict_proba(x)[0]
    best = int(np.argmax(probabilities))
    try:
        with connection().cursor() as cursor:
            cursor.execute(INSERT, row + [CLASSES[best], "model", "reference", request.request_id])
            row_id = cursor.lastrowid
    except pymysql.MySQLError as e:
        raise HTTPException(status_code=503, detail=str(e))
    return {"prediction": CLASSES[best], "probabilities": dict(zip(CLASSES, probabilities.tolist())),
            "model_version": "reference", "row_id": row_id}
