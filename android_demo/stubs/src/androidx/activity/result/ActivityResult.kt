package androidx.activity.result

// androidx.activity:activity 1.12 (Kotlin): the launcher and the callback of the result API.
abstract class ActivityResultLauncher<I> {
    open fun launch(input: I): Unit = throw RuntimeException("Stub!")
}

fun interface ActivityResultCallback<O : Any?> {
    fun onActivityResult(result: O)
}
