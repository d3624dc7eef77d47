"mypt pipeline end to end (papermill over the stage notebooks) on a reduced parameter set."
import json
from pathlib import Path
import nbformat
from conftest import ROOT, run_mypt

TINY = ROOT/'configs'/'cpu'/'tiny_test.json'

def test_pipeline_end_to_end(tmp_path):
    rd = tmp_path/'run'
    r = run_mypt('pipeline', '--run_dir', rd, '-p', 'config_file', TINY, '-p', 'max_iters', '8', '-p', 'eval_interval', '4',
                 '-p', 'max_new_tokens', '8', '-p', 'model_name', 'tiny', check=0, timeout=1200)
    assert '[5/5] 04_eval' in r.stdout
    for s in ('00_tokens', '01_episodes', '02_prepare', '03_train', '04_eval'):
        nb = nbformat.read(rd/'notebooks'/f'{s}.ipynb', as_version=4)
        assert any(c.get('outputs') for c in nb.cells if c.cell_type == 'code'), s    # executed, with outputs
        if s != '00_tokens': assert any('injected-parameters' in c.metadata.get('tags', []) for c in nb.cells), s
    meta = json.loads((rd/'dataset'/'dataset_metadata.json').read_text())
    assert meta['schema'] == 'episode_indexed_sft_v1' and meta['num_train_episodes'] > 0
    ck = rd/'checkpoints'/'tiny'
    assert (ck/'model.safetensors').exists() and json.loads((ck/'train_state.json').read_text())['step'] == 8
    rep = rd/'report'
    assert list(rep.glob('*.png')), list(rep.iterdir())
    chk = json.loads((rep/'checklist.json').read_text())
    assert {'items', 'passed'} <= set(chk)
    summary = json.loads((rd/'pipeline.json').read_text())
    assert summary['status'] == 'ok' and [s['stage'] for s in summary['stages']][-1] == '04_eval'

def test_pipeline_failure_names_notebook_and_cell(tmp_path):
    rd = tmp_path/'run'
    r = run_mypt('pipeline', '--run_dir', rd, '-p', 'input_path', tmp_path/'missing.jsonl', '--stages', '00_tokens', '01_episodes', check=1)
    assert '01_episodes.ipynb failed in cell' in r.stderr and 'missing.jsonl' in r.stderr and 'Traceback' not in r.stderr
    assert json.loads((rd/'pipeline.json').read_text())['status'] == 'failed'
    assert (rd/'notebooks'/'01_episodes.ipynb').exists()     # kept for inspection

def test_stage_notebook_runs_under_plain_papermill(tmp_path):
    import papermill as pm
    out = tmp_path/'prep.ipynb'
    pm.execute_notebook(str(ROOT/'nbs'/'02_prepare.ipynb'), str(out), cwd=str(ROOT/'nbs'), progress_bar=False,
                        parameters={'input_path': str(ROOT/'data'/'sample'/'gold_en.jsonl'), 'dataset_dir': str(tmp_path/'ds')})
    assert json.loads((tmp_path/'ds'/'dataset_metadata.json').read_text())['num_train_episodes'] + \
           json.loads((tmp_path/'ds'/'dataset_metadata.json').read_text())['num_val_episodes'] == 120

def test_every_stage_notebook_has_parameters_and_kernel():
    import papermill as pm
    for s in ('00_tokens', '01_episodes', '02_prepare', '03_train', '04_eval'):
        nb = nbformat.read(ROOT/'nbs'/f'{s}.ipynb', as_version=4)
        assert nb.metadata['kernelspec']['name'] == 'python3'
        assert pm.inspect_notebook(str(ROOT/'nbs'/f'{s}.ipynb')), s
