"""XGBoost for parties, with XGBoost's own names, over data that stays sealed.

::

    from accord.client.xgboost import AccordXGBoost

    xgb = AccordXGBoost(client)                     # client: attested and provisioned
    mine = xgb.upload(sealed_file, "alice_train")   # a Dataset: name, owner, blob id
    dtrain = xgb.load("train", [mine, bobs])        # RemoteDMatrix (rows stay in enclaves)
    booster = xgb.train(params, dtrain, num_boost_round=10, evals=[(dtrain, "train")])
    predictions = booster.predict(dtest)            # numpy; only on this party's own rows

Every call is a command that the agreement's approval rule must be met for: the other
parties inspect and approve it on their own machines (``accord pending``, ``accord approve
ID``; or ``client.approve(id)``). Calls wait for that by default; ``wait=False`` returns a
:class:`Pending` with the ``proposal_id`` to approve. A rejection or an expiry raises
:class:`~accord.errors.ApprovalError`; a failure inside the enclaves
:class:`~accord.client.CommandFailedError`. docs/quickstart.md has a complete example.
"""

from accord.client.xgboost.booster import RemoteBooster
from accord.client.xgboost.facade import DEFAULT_RUN_TIMEOUT, AccordXGBoost
from accord.client.xgboost.handles import Dataset, RemoteDMatrix
from accord.client.xgboost.pending import Pending
from accord.client.xgboost.progress import RoundCallback
from accord.client.xgboost.sklearn import AccordXGBClassifier, AccordXGBRegressor

__all__ = [
    "DEFAULT_RUN_TIMEOUT",
    "AccordXGBClassifier",
    "AccordXGBRegressor",
    "AccordXGBoost",
    "Dataset",
    "Pending",
    "RemoteBooster",
    "RemoteDMatrix",
    "RoundCallback",
]
