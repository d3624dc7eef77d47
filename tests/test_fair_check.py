"The generation check of issue 17: language rule, budget rule, val prompts with references, thresholds."
import pandas as pd, pytest
from conftest import ROOT, run_mypt
from mypt.episodes import text_language
from mypt.evaluate import (reply_budget, val_prompts, _generation_items, comparison_summary, BUDGET_FACTOR,
                           CLOSED_SHARE_MIN, BASE_CLOSED_MAX, LANGUAGE_SHARE_MIN, LOSS_MARGIN_MIN)
from mypt.tokens import SPECIAL_TOKENS as S

@pytest.mark.parametrize('text,lang', [
    ('Use a parameterized query: the driver sends the data apart from the SQL, so it cannot change it.', 'en'),
    ('Verwenden Sie eine parametrisierte Abfrage: der Treiber sendet die Daten getrennt, so dass sie nicht ändern.', 'de'),
    ('```python\nprint(1)\n```', None), ('', None), ('the der', None)])
def test_text_language(text, lang):
    assert text_language(text) == lang

def test_budget_rule():
    assert reply_budget({'ids': [1], 'reference_tokens': 300}, 64) == BUDGET_FACTOR * 300 == 600
    assert reply_budget('What is SQL injection?', 64) == 64

def test_val_prompts_carry_their_reference(tmp_path):
    out = tmp_path/'ds'
    run_mypt('prepare', '--input', ROOT/'data'/'sample'/'gold_bilingual.jsonl', '--output_dir', out, check=0)
    from mypt.dataset import open_dataset
    ps = val_prompts(out, 5)
    val = open_dataset(out).split('val')
    assert len(ps) == 5
    for p, (ids, _) in zip(ps, val):
        ids = ids.tolist(); a = ids.index(S['<myPT_assistant>'])
        assert p['ids'] == ids[:a + 1] and p['ids'][-1] == S['<myPT_assistant>']
        assert ids[a + p['reference_tokens']] == S['</myPT_assistant>']

def _df(sft_closed, base_closed, lang_ok, sft_loss, base_loss):
    rows = []
    for name, closed, loss in (('sft', sft_closed, sft_loss), ('base', base_closed, base_loss)):
        for k, c in enumerate(closed):
            rows.append({'model': name, 'prompt_index': k, 'closed': c, 'prompt_language': 'en',
                         'language_ok': lang_ok[k] if name == 'sft' else False, 'reply_tokens': 10, 'reference_tokens': 10,
                         'val_loss': loss, 'perplexity': 1.0})
    df = pd.DataFrame(rows); g = df.groupby('model', sort=False)
    df['closed_share'] = g['closed'].transform('mean'); df['mean_reply_tokens'] = 10.0
    df['language_share'] = g['language_ok'].transform('mean'); df['length_vs_reference'] = 1.0
    return df

def test_thresholds_pass_and_fail_honestly():
    good = _df([1] * 9 + [0], [1, 1] + [0] * 8, [1] * 8 + [0, 0], 3.0, 4.0)
    items = {i['name']: i['passed'] for i in _generation_items(good, comparison_summary(good), True)}
    assert items == {'generation': True, 'language': True, 'base_rarely_closes': True, 'sft_better_than_base': True}
    bad = _df([1] * 7 + [0] * 3, [1] * 3 + [0] * 7, [1] * 7 + [0] * 3, 3.5, 4.0)
    items = {i['name']: i['passed'] for i in _generation_items(bad, comparison_summary(bad), True)}
    assert items == {'generation': False, 'language': False, 'base_rarely_closes': False, 'sft_better_than_base': False}
    assert (CLOSED_SHARE_MIN, BASE_CLOSED_MAX, LANGUAGE_SHARE_MIN, LOSS_MARGIN_MIN) == (0.8, 0.2, 0.8, 1.0)
