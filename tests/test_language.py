from segassist.warehouse.language import detect_language


def test_detects_the_three_languages_of_the_product():
    assert detect_language("The strings broke after a week, very disappointed.") == "en"
    assert detect_language("Produto chegou antes do prazo, muito bom, recomendo.") == "pt"
    assert detect_language("这个吉他的音色非常好，物流也很快。") == "zh"


def test_short_or_empty_text_gets_the_data_sets_language():
    assert detect_language("", default="pt") == "pt"
    assert detect_language(None) == "und"
    assert detect_language("ok!!", default="en") == "en"
