package androidx.activity

import android.app.Activity
import androidx.activity.result.ActivityResultCallback
import androidx.activity.result.ActivityResultLauncher
import androidx.activity.result.contract.ActivityResultContract
import androidx.lifecycle.LifecycleOwner

// androidx.activity:activity 1.12 (Kotlin): ComponentActivity extends androidx.core.app.ComponentActivity
// (an android.app.Activity) and is a LifecycleOwner; registerForActivityResult is final.
open class ComponentActivity : Activity(), LifecycleOwner {
    fun <I, O> registerForActivityResult(
        contract: ActivityResultContract<I, O>,
        callback: ActivityResultCallback<O>,
    ): ActivityResultLauncher<I> = throw RuntimeException("Stub!")
}
